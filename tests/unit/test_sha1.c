/*
 * test_sha1.c - unit tests of src/base/sha1.c: the FIPS 180 / RFC 3174
 * test vectors, the lengths where the padding needs a second block, and
 * the name Redis gives a script (what EVALSHA is called with).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/base/sha1.h"

#define UNUSED __attribute__((unused))

static void assert_sha1_hex(const void *data, size_t len, const char *expected)
{
    char hex[SHA1_HEX_SIZE];
    memset(hex, 'x', sizeof hex);
    sha1_hex(data, len, hex);
    assert_string_equal(hex, expected);
}

static void test_fips_abc(void **state UNUSED)
{
    assert_sha1_hex("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

static void test_fips_448_bit_message(void **state UNUSED)
{
    const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(strlen(msg) * 8, 448);
    assert_sha1_hex(msg, strlen(msg), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

static void test_fips_million_a(void **state UNUSED)
{
    size_t len = 1000000;
    char *msg = malloc(len);
    assert_non_null(msg);
    memset(msg, 'a', len);
    assert_sha1_hex(msg, len, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(msg);
}

static void test_empty_string(void **state UNUSED)
{
    assert_sha1_hex("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_sha1_hex(NULL, 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

static void test_rfc3174_repeated_block(void **state UNUSED)
{
    const char *block = "0123456701234567012345670123456701234567012345670123456701234567";
    char msg[640];
    for (int i = 0; i < 10; i++)
        memcpy(msg + 64 * i, block, 64);
    assert_sha1_hex(msg, 640, "dea356a2cddd90c7a7ecedc5ebb563934f460452");
}

/* 55 bytes still fit the length in the last block; 56 to 63 need another. */
static void test_padding_boundaries(void **state UNUSED)
{
    static const struct {
        size_t len;
        const char *hex;
    } cases[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
    };
    char msg[65];
    memset(msg, 'a', sizeof msg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_sha1_hex(msg, cases[i].len, cases[i].hex);
}

static void test_digest_bytes(void **state UNUSED)
{
    static const unsigned char expected[SHA1_DIGEST_SIZE] = {
        0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
        0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d,
    };
    unsigned char digest[SHA1_DIGEST_SIZE];
    sha1_digest("abc", 3, digest);
    assert_memory_equal(digest, expected, SHA1_DIGEST_SIZE);
}

/*
 * The names Redis 7 printed for these scripts with SCRIPT LOAD: EVALSHA
 * works only when orderd computes the very same name.
 */
static void test_matches_redis_script_load(void **state UNUSED)
{
    const char *script = "local v = redis.call('GET', KEYS[1])\n"
                         "if v then return v end\n"
                         "return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n";
    assert_sha1_hex(script, strlen(script), "1afa8b4093d513b94ff63201532c897983204b10");
    assert_sha1_hex("return 1", 8, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_abc),
        cmocka_unit_test(test_fips_448_bit_message),
        cmocka_unit_test(test_fips_million_a),
        cmocka_unit_test(test_empty_string),
        cmocka_unit_test(test_rfc3174_repeated_block),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_digest_bytes),
        cmocka_unit_test(test_matches_redis_script_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
