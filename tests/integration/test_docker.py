"""test_docker.py - docker/ works, proved without a Docker engine.

Runs scripts/check-docker: `docker-compose config` and the topology rules on
docker/docker-compose.yml, `nginx -t` on docker/nginx/nginx.conf with the
compose includes, the Dockerfile's build stage natively in a scratch copy of
the repository, and the final stage's runtime libraries against what the
built orderd needs.  Its header lists every check.

    python3 tests/integration/test_docker.py
"""

import os
import subprocess
import sys
import unittest

import harness

CHECK_DOCKER = os.path.join(harness.SOURCE_DIR, "scripts", "check-docker")


class DockerTest(unittest.TestCase):
    def test_compose_file_nginx_config_and_image_build(self):
        # the image build must not depend on anything the test run exports
        env = harness.daemon_env()
        proc = subprocess.run([CHECK_DOCKER], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=600)
        sys.stderr.write(proc.stdout)
        self.assertEqual(proc.returncode, 0, "scripts/check-docker found problems (output above)")


if __name__ == "__main__":
    harness.main()
