/*
 * fuzz_config.c - the config file parser, through config_load itself.
 *
 * The input is the file's text.  It is written to a memory file
 * (memfd_create) that config_load reads as "--config /proc/self/fd/N",
 * so the fuzzer runs exactly what the daemon runs at start-up and writes
 * nothing to disk.  ORDERD_* variables are cleared first: the file alone
 * decides.
 *
 * Invariants: a refused file gets a one-line message that fits err; an
 * accepted one has no NUL byte (which would hide the rest of its line) and,
 * printed with config_print (what --print-config shows,
 * "what the file would take back") loads again and prints the same text,
 * secret settings aside (they print masked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "orderd/base/config.h"

extern char **environ;

static int file_fd = -1;
static char file_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; environ[i];) {
        char name[256];
        const char *eq = strchr(environ[i], '=');
        size_t n = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        if (strncmp(environ[i], "ORDERD_", 7) == 0 && n < sizeof name) {
            memcpy(name, environ[i], n);
            name[n] = '\0';
            unsetenv(name); /* environ shifts down: look at i again */
            continue;
        }
        i++;
    }
    file_fd = memfd_create("orderd-fuzz-config", 0);
    FUZZ_CHECK(file_fd >= 0);
    snprintf(file_path, sizeof file_path, "/proc/self/fd/%d", file_fd);
    return 0;
}

static void set_file(const void *data, size_t size)
{
    FUZZ_CHECK(ftruncate(file_fd, 0) == 0);
    FUZZ_CHECK(size == 0 || pwrite(file_fd, data, size, 0) == (ssize_t)size);
}

static int load(orderd_config *cfg, char *err, size_t errlen)
{
    char *argv[] = {"orderd", "--config", file_path, NULL};
    return config_load(cfg, 3, argv, err, errlen);
}

/*
 * The secret settings: config_print shows them masked, so what loads back
 * is the masked text, not the value, and need not print the same.
 */
static bool is_secret_line(const char *line)
{
    return strncmp(line, "db_url = ", 9) == 0 || strncmp(line, "redis_url = ", 12) == 0;
}

/* config_print's text without the secret lines, malloc'd; *len its length. */
static char *printed(const orderd_config *cfg, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&text, &n);
    FUZZ_CHECK(out);
    config_print(cfg, out);
    FUZZ_CHECK(fclose(out) == 0);
    char *kept = malloc(n + 1), *k = kept;
    FUZZ_CHECK(kept);
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len_line = nl ? (size_t)(nl + 1 - line) : strlen(line);
        if (!is_secret_line(line)) {
            memcpy(k, line, len_line);
            k += len_line;
        }
        line += len_line;
    }
    *k = '\0';
    *len = (size_t)(k - kept);
    free(text);
    return kept;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static orderd_config cfg, again; /* large: off the stack */
    char err[512];
    set_file(data, size);
    if (load(&cfg, err, sizeof err) != 0) {
        size_t n = strnlen(err, sizeof err);
        FUZZ_CHECK(n > 0 && n < sizeof err && !strchr(err, '\n'));
        return 0;
    }
    FUZZ_CHECK(cfg.command == ORDERD_CMD_SERVE && strcmp(cfg.config_path, file_path) == 0);
    FUZZ_CHECK(!memchr(data, '\0', size)); /* nothing of the file goes unread */

    size_t len1 = 0, len2 = 0;
    char *first = printed(&cfg, &len1);
    set_file(first, len1);
    if (load(&again, err, sizeof err) != 0) {
        fprintf(stderr, "printed config does not load back: %s\n%s", err, first);
        FUZZ_CHECK(!"--print-config output loads back");
    }
    char *second = printed(&again, &len2);
    if (len1 != len2 || memcmp(first, second, len1) != 0)
        fprintf(stderr, "printed:\n%s\nprinted after loading that back:\n%s", first, second);
    FUZZ_CHECK(len1 == len2 && memcmp(first, second, len1) == 0);
    free(first);
    free(second);
    return 0;
}
