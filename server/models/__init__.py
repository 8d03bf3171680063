"""SQLAlchemy models; importing this package registers every table on the metadata."""

from server.models.agent import (
    Agent,
    AgentAlert,
    AgentBadge,
    AgentEvaluation,
    AgentLevel,
    AgentPolicy,
    AgentTerritory,
    AgentUpperChange,
    MerchantAgentChange,
    Region,
)
from server.models.alliance import AllianceSettings, Level
from server.models.base import Base
from server.models.benefit import (
    BenefitCode,
    BenefitImport,
    BenefitImportRow,
    BenefitPurchase,
    BenefitSku,
    BenefitSkuAgentPrice,
    BenefitSkuMerchant,
    BenefitSkuRegion,
    BenefitSkuTrade,
    Supplier,
)
from server.models.benefit_channel import (
    BenefitAgentHandout,
    DynamicVoucherKey,
    DynamicVoucherUse,
    MerchantGiftRule,
    SaleGift,
)
from server.models.benefit_counters import BenefitCounter
from server.models.benefit_grant import (
    BenefitCampaign,
    BenefitGrant,
    BenefitGrantBatch,
    BenefitPartner,
    BenefitPartnerNonce,
)
from server.models.benefit_ops import (
    BenefitAlert,
    BenefitClaim,
    BenefitConsignment,
    BenefitConsignmentCode,
    BenefitDemand,
    BenefitInvoice,
)
from server.models.brushing import AgentViolation, BrushingFlag, BrushingFlagSale, BrushingRule, Complaint
from server.models.card import Card, CardAlert, CardBatch, CardConsignment
from server.models.commission import Commission, CommissionAdjustment, CommissionMerchantTerm, CommissionPolicy
from server.models.console import ConsoleSession
from server.models.ledger import ALLIANCE_OWNER, LedgerAccount, LedgerEntry, LedgerTransaction
from server.models.member import Member
from server.models.member_access import LoginCode, MemberCodeUse, MemberDevice, MerchantPoster, WechatBinding
from server.models.merchant import Merchant, MerchantLevelDiscount, Terminal
from server.models.money import MoneyAccount, MoneyEntry, MoneyTransaction
from server.models.notification import SmsMessage
from server.models.payouts import BonusPoolPeriod, BonusShare, PayoutPolicy, Withdrawal
from server.models.points import PointsLot, PointsLotSpend
from server.models.records import AuditLog, IdempotencyRecord
from server.models.sale import Identification, Refund, RejectedSale, Sale, SaleVoucher
from server.models.settlement import JobRun, Settlement, SettlementDay
from server.models.staff import PersonalToken, StaffUser
from server.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription

__all__ = [
    "BenefitAgentHandout",
    "DynamicVoucherKey",
    "DynamicVoucherUse",
    "MerchantGiftRule",
    "SaleGift",
    "BonusPoolPeriod",
    "BonusShare",
    "PayoutPolicy",
    "Withdrawal",
    "AgentViolation",
    "BrushingFlag",
    "BrushingFlagSale",
    "BrushingRule",
    "Complaint",
    "Commission",
    "CommissionAdjustment",
    "CommissionMerchantTerm",
    "CommissionPolicy",
    "Agent",
    "AgentAlert",
    "AgentBadge",
    "AgentEvaluation",
    "AgentLevel",
    "AgentPolicy",
    "AgentTerritory",
    "AgentUpperChange",
    "MerchantAgentChange",
    "Region",
    "ALLIANCE_OWNER",
    "AllianceSettings",
    "AuditLog",
    "Base",
    "BenefitAlert",
    "BenefitCampaign",
    "BenefitCounter",
    "BenefitGrant",
    "BenefitGrantBatch",
    "BenefitPartner",
    "BenefitPartnerNonce",
    "BenefitClaim",
    "BenefitCode",
    "BenefitConsignment",
    "BenefitConsignmentCode",
    "BenefitDemand",
    "BenefitInvoice",
    "BenefitImport",
    "BenefitImportRow",
    "BenefitPurchase",
    "BenefitSku",
    "BenefitSkuAgentPrice",
    "BenefitSkuMerchant",
    "BenefitSkuRegion",
    "BenefitSkuTrade",
    "Supplier",
    "Card",
    "CardAlert",
    "CardBatch",
    "CardConsignment",
    "ConsoleSession",
    "IdempotencyRecord",
    "JobRun",
    "Identification",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "Level",
    "LoginCode",
    "Member",
    "MemberCodeUse",
    "MemberDevice",
    "Merchant",
    "MerchantLevelDiscount",
    "MerchantPoster",
    "MoneyAccount",
    "MoneyEntry",
    "MoneyTransaction",
    "PersonalToken",
    "PointsLot",
    "PointsLotSpend",
    "Refund",
    "RejectedSale",
    "Sale",
    "SaleVoucher",
    "Settlement",
    "SettlementDay",
    "SmsMessage",
    "StaffUser",
    "Terminal",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
    "WechatBinding",
]
