"""Loaded by the Python that runs the openstack.cloud modules (PYTHONPATH, devcloud/playbook.py).

openstack.cloud 2.5.0 (the collection in ansible 12, the last release for Python 3.11)
reads `openstack.version.__version__` after `import openstack`, and openstacksdk 4.15+ no
longer imports that submodule in its `__init__`: every module fails with "module 'openstack'
has no attribute 'version'" (fixed in openstack.cloud 2.6.0, which ships only with ansible
13+, for Python 3.12+). Importing it here makes the attribute exist.
"""

import contextlib

with contextlib.suppress(ImportError):  # the controller's own Python may lack openstacksdk
    import openstack.version  # noqa: F401
