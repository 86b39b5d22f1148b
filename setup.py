"""Package map: the `platform/` folder is imported as `conceptspro`.

`platform` is also a standard-library module that Celery, pytest and urllib3
import; a package of that name on sys.path would shadow it. So `platform/` has
no `__init__.py` (``import platform`` stays the standard library's) and is
installed under the name ``conceptspro``.
"""

from setuptools import find_packages, setup

platform_packages = ["conceptspro"] + [f"conceptspro.{name}" for name in find_packages("platform")]

setup(
    packages=platform_packages
    + find_packages(include=["shared_apps*", "tenant_apps*", "provisioning*"]),
    package_dir={"conceptspro": "platform"},
    include_package_data=True,
)
