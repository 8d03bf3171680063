"""Recording a sale and refunding it, as ordered steps: resolve → price → persist → post.

``context.py`` holds the typed requests, the drafts the steps fill and the results; ``pipeline.py`` the
step order and the one transaction; each step lives in the module of its stage. docs/architecture.md
("A sale, from tap to receipt") says how to add a step.
"""

from server.services.sales.context import RefundRequest, RefundResult, SaleRequest, SaleResult
from server.services.sales.pipeline import record_sale, refund_sale

__all__ = ["RefundRequest", "RefundResult", "SaleRequest", "SaleResult", "record_sale", "refund_sale"]
