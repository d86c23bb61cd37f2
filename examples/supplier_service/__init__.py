"""An example water/gas supplier service implementing the Supplier HTTP API of docs/resupply.md.

Independent of the hub on purpose (it imports neither `hub` nor `integrations`): it is the peer
the hub's supplier adapters are tested against. See README.md.
"""

from __future__ import annotations

from .server import SIGNATURE_HEADER, ApiError, SupplierService, create_app, is_sum_of_loads, sign

__all__ = ["SIGNATURE_HEADER", "ApiError", "SupplierService", "create_app", "is_sum_of_loads", "sign"]
