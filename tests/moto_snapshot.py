"""moto's whole in-process state, saved once and put back before each test: a fresh stack in ~3 ms.

Provisioning every table, queue, bucket, SES template and the Cognito pool with its users costs 0.3-0.7 s;
the integration tier did it before each of its tests. A snapshot deep-copies each moto backend's state
(`BaseBackend.__dict__`, per service, account and region) right after provisioning; `restore()` drops
every backend a test created and writes a copy of the saved state back into the saved backend objects,
so a test starts with exactly what provisioning made, whatever the test before it did (items, objects,
messages, emails, users, even a `mock_aws` of its own that reset moto). One snapshot per process: each
xdist worker provisions its own.
"""

from __future__ import annotations

import copy
import copyreg
import threading
from dataclasses import dataclass

from moto.core.base_backend import BackendDict, BaseBackend

# moto keeps locks in some backends; a copy gets fresh, unlocked ones
for _factory in (threading.Lock, threading.RLock):
    copyreg.pickle(type(_factory()), lambda lock, _new=_factory: (_new, ()))


@dataclass(frozen=True)
class _Saved:
    backends: BackendDict
    account_id: str
    region: str
    backend: BaseBackend
    state: dict


class Snapshot:
    def __init__(self) -> None:
        self._saved = [
            _Saved(backends, account_id, region, backend, {})
            for backends in list(BackendDict._instances)
            for account_id, region, backend in backends.iter_backends()
        ]
        # references between backends stay references to the live objects, never copies of them
        self._memo = {id(saved.backend): saved.backend for saved in self._saved}
        self._saved = [
            _Saved(s.backends, s.account_id, s.region, s.backend, self._copy(s.backend.__dict__))
            for s in self._saved
        ]

    def _copy(self, state: dict) -> dict:
        return copy.deepcopy(state, dict(self._memo))

    def restore(self) -> None:
        keep = set(self._memo)
        for backends in list(BackendDict._instances):
            for regions in list(backends.values()):
                for region, backend in list(regions.items()):
                    if id(backend) not in keep:  # a service or region only the last test used
                        dict.__delitem__(regions, region)
        for saved in self._saved:
            regions = saved.backends[saved.account_id]  # re-registers the service after a moto reset
            dict.__setitem__(regions, saved.region, saved.backend)
            saved.backend.__dict__ = self._copy(saved.state)
