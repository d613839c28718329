# install.cmake - where `cmake --install` puts orderd, and the Debian
# package made from the same rules (`cpack -G DEB`, scripts/package).
#
# With the default CMAKE_INSTALL_PREFIX (/usr/local): bin/orderd,
# share/orderd/sql/, etc/orderd/orderd.conf, share/man/man8/orderd.8.gz,
# lib/systemd/system/orderd.service.  The package is built with the prefix
# /usr, where GNUInstallDirs puts the config in /etc and the unit goes to
# /lib/systemd/system, as Debian 12 packages do.
#
# Why CPack and not debian/ packaging: the package comes from the very
# install rules and build that the tests use, needs nothing but CMake and
# dpkg-dev (dpkg-shlibdeps computes the library dependencies), and builds
# in seconds.  debian/ with debhelper would be the way into the Debian
# archive (source package, lintian, dh_installsystemd); nothing here needs
# that, and it would be a second description of the same install.

set(ORDERD_CONFIG_DIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/orderd")
set(ORDERD_CONFIG_FILE "${ORDERD_CONFIG_DIR}/orderd.conf")
set(ORDERD_INSTALL_BIN "${CMAKE_INSTALL_FULL_BINDIR}/orderd")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(ORDERD_UNIT_DIR_DEFAULT "/lib/systemd/system")
else()
  set(ORDERD_UNIT_DIR_DEFAULT "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(ORDERD_SYSTEMD_UNIT_DIR "${ORDERD_UNIT_DIR_DEFAULT}" CACHE PATH
    "where the systemd unit orderd.service is installed")

install(TARGETS orderd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sql/ DESTINATION ${CMAKE_INSTALL_DATADIR}/orderd/sql)
install(FILES ${PROJECT_SOURCE_DIR}/config/orderd.conf DESTINATION ${ORDERD_CONFIG_DIR})

configure_file(${PROJECT_SOURCE_DIR}/packaging/orderd.service.in
               ${PROJECT_BINARY_DIR}/packaging/orderd.service @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/packaging/orderd.service DESTINATION ${ORDERD_SYSTEMD_UNIT_DIR})

# man pages are shipped compressed (Debian policy 12.1); -n keeps the
# archive free of a timestamp so two builds give the same bytes
find_program(GZIP gzip REQUIRED)
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/packaging/orderd.8.gz
  COMMAND ${GZIP} -9n -c ${PROJECT_SOURCE_DIR}/packaging/orderd.8 > ${PROJECT_BINARY_DIR}/packaging/orderd.8.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/orderd.8
  VERBATIM)
add_custom_target(orderd_man ALL DEPENDS ${PROJECT_BINARY_DIR}/packaging/orderd.8.gz)
install(FILES ${PROJECT_BINARY_DIR}/packaging/orderd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# ---- the Debian package ------------------------------------------------------

foreach(script postinst prerm postrm conffiles)
  configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/${script}
                 ${PROJECT_BINARY_DIR}/packaging/debian/${script} @ONLY)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME orderd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "REST order service on PostgreSQL, with a Redis cache")
set(CPACK_PACKAGE_DESCRIPTION
    "orderd serves orders over HTTP as JSON, stores them in PostgreSQL and\ncaches them in Redis and in process memory, kept coherent by a change feed.\nIt runs under systemd (Type=notify, watchdog, reload on SIGHUP).")
set(CPACK_PACKAGE_CONTACT "orderd maintainers <orderd@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # orderd_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# libmicrohttpd, libpq, hiredis, jansson, msgpack-c: from the binary's own links
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# the maintainer scripts create and remove the system user
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql, redis-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/packaging/debian/postinst
    ${PROJECT_BINARY_DIR}/packaging/debian/prerm
    ${PROJECT_BINARY_DIR}/packaging/debian/postrm
    ${PROJECT_BINARY_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
