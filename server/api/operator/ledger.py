"""The shared points ledger, read-only: accounts, their entries and transactions."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.operator_schemas import (
    AccountEntrySchema,
    LedgerAccountQuerySchema,
    LedgerAccountSchema,
    LedgerTransactionQuerySchema,
    LedgerTransactionSchema,
)
from server.services import queries

blp = Blueprint("operator_ledger", __name__, url_prefix="/api/v1", description="The points ledger (read-only)")
blp.before_request(staff_only)


@blp.route("/ledger/accounts")
class LedgerAccounts(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(LedgerAccountQuerySchema, location="query")
    @blp.response(200, LedgerAccountSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Points accounts by kind and owner, in the order they were opened."""
        require_staff("ledger:read")
        return queries.list_accounts(filters, pagination_parameters)


@blp.route("/ledger/accounts/<int:account_id>/entries")
class LedgerAccountEntries(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AccountEntrySchema(many=True))
    @blp.paginate()
    def get(self, account_id, pagination_parameters):
        """The entries of one account, newest first."""
        require_staff("ledger:read")
        queries.get_account(account_id)
        return queries.account_entries(account_id, pagination_parameters)


@blp.route("/ledger/transactions")
class LedgerTransactions(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(LedgerTransactionQuerySchema, location="query")
    @blp.response(200, LedgerTransactionSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Ledger transactions by kind and sale, newest first, each with its entries."""
        require_staff("ledger:read")
        return queries.list_transactions(filters, pagination_parameters)
