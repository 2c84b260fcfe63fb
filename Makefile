# Packaging entry points; the app itself builds and tests with npm (see README.md).

.PHONY: deb package-test

# The Debian 13 package: build/deb/f2bp2p_VERSION_ARCH.deb (needs root unless run on Debian 13).
deb:
	bash packaging/build-deb.sh

# The package's tests: lintian, systemd-analyze, piuparts and booted Debian 13 containers (root).
package-test:
	bash packaging/test.sh
