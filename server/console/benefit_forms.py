"""The console's benefit (权益) forms: catalogue, suppliers, purchases and imports, demand, consignment, reveal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, Regexp

from server.console.forms import PercentField, YuanField


def _text(value):
    return (value or "").strip()


class SkuForm(FlaskForm):
    """A benefit product: kind and value, acceptance scope, validity, limits, funder, alert settings."""

    once = HiddenField()
    code = StringField(
        _l("Product code"), [DataRequired(), Length(max=32), Regexp(r"^[A-Za-z0-9_-]+$")], filters=[_text]
    )
    name = StringField(_l("Name"), [DataRequired(), Length(max=100)], filters=[_text])
    kind = SelectField(_l("Kind"), [DataRequired()], choices=[])
    face_value = YuanField(_l("Face value (¥)"), [InputRequired(), NumberRange(0, 1_000_000)])
    sale_price = YuanField(_l("Sale price (¥)"), [InputRequired(), NumberRange(0, 1_000_000)])
    threshold = YuanField(_l("Spend threshold (¥, spend X get Y off)"), [Optional(), NumberRange(0.01, 1_000_000)])
    percent_off = PercentField(_l("Percentage off (%)"), [Optional()])
    cap = YuanField(_l("Cap of the discount (¥)"), [Optional(), NumberRange(0.01, 1_000_000)])
    item_name = StringField(_l("Named item"), [Length(max=100)], filters=[_text])
    scope = SelectField(_l("Accepted at"), [DataRequired()], choices=[])
    trades = StringField(_l("Trades (comma-separated codes)"), [Length(max=300)], filters=[_text])
    region_codes = StringField(_l("Region codes (comma-separated)"), [Length(max=300)], filters=[_text])
    merchant_ids = StringField(_l("Merchant IDs (comma-separated)"), [Length(max=1000)], filters=[_text])
    valid_from = DateField(_l("Valid from"), [Optional()])
    valid_until = DateField(_l("Valid until"), [Optional()])
    valid_days = IntegerField(_l("Valid days after issue"), [Optional(), NumberRange(1, 3650)])
    per_member_limit = IntegerField(_l("Limit per member"), [Optional(), NumberRange(1, 10_000)])
    funder = SelectField(_l("Who funds the voucher"), choices=[], validate_choice=False)  # the service checks it
    sponsor_merchant_id = SelectField(_l("Sponsoring merchant"), choices=[], validate_choice=False)
    low_stock_threshold = IntegerField(_l("Low-stock alert below (codes)"), [InputRequired(), NumberRange(0, 10**7)])
    near_expiry_days = IntegerField(_l("Expiry alert (days before)"), [InputRequired(), NumberRange(0, 3650)])
    description = StringField(_l("Description"), [Length(max=500)], filters=[_text])
    restore_on_refund = BooleanField(_l("A fully refunded sale gives the voucher back"), default=True)
    submit = SubmitField(_l("Save"))


class SupplierForm(FlaskForm):
    once = HiddenField()
    name = StringField(_l("Name"), [DataRequired(), Length(max=100)], filters=[_text])
    contact_name = StringField(_l("Contact person"), [Length(max=50)], filters=[_text])
    contact_phone = StringField(_l("Contact phone"), [Length(max=32)], filters=[_text])
    contact_email = StringField(_l("Contact email"), [Optional(), Email(), Length(max=100)], filters=[_text])
    terms = StringField(_l("Terms"), [Length(max=500)], filters=[_text])
    payment_days = IntegerField(_l("Payment days"), [InputRequired(), NumberRange(0, 365)], default=30)
    submit = SubmitField(_l("Add supplier"))


class PurchaseForm(FlaskForm):
    once = HiddenField()
    sku_id = SelectField(_l("Benefit product"), [DataRequired()], choices=[])
    supplier_id = SelectField(_l("Supplier"), choices=[], validate_choice=False)  # none: a generated purchase
    source = SelectField(_l("Source"), [DataRequired()], choices=[])
    quantity = IntegerField(_l("Quantity"), [InputRequired(), NumberRange(1, 10_000_000)])
    unit_cost = YuanField(_l("Unit cost (¥)"), [InputRequired(), NumberRange(0, 1_000_000)])
    invoice_number = StringField(_l("Invoice number"), [Length(max=64)], filters=[_text])
    purchase_date = DateField(_l("Purchase date"), [InputRequired()])
    valid_until = DateField(_l("Codes valid until"), [Optional()])
    submit = SubmitField(_l("Add purchase"))


class ImportForm(FlaskForm):
    once = HiddenField()
    file = FileField(_l("File of codes (CSV or XLSX: code, secret, expiry)"), [FileRequired()])
    all_or_nothing = BooleanField(_l("All or nothing (import nothing if a row is bad)"), default=True)
    submit = SubmitField(_l("Import"))


class InvoiceForm(FlaskForm):
    once = HiddenField()
    purchase_id = SelectField(_l("Purchase"), [DataRequired()], choices=[])
    invoice_number = StringField(_l("Invoice number"), [Length(max=64)], filters=[_text])
    total = YuanField(_l("Invoice total (¥)"), [InputRequired(), NumberRange(0, 100_000_000)])
    submit = SubmitField(_l("Record invoice"))


class DemandForm(FlaskForm):
    once = HiddenField()
    sku_id = SelectField(_l("Benefit product"), [DataRequired()], choices=[])
    needed_on = DateField(_l("Needed on"), [InputRequired()])
    quantity = IntegerField(_l("Quantity"), [InputRequired(), NumberRange(1, 10_000_000)])
    note = StringField(_l("Campaign or note"), [Length(max=200)], filters=[_text])
    submit = SubmitField(_l("Schedule"))


class ConsignBenefitsForm(FlaskForm):
    once = HiddenField()
    agent_id = SelectField(_l("Agent"), [DataRequired()], choices=[])
    sku_id = SelectField(_l("Benefit product"), [DataRequired()], choices=[])
    quantity = IntegerField(_l("Quantity"), [InputRequired(), NumberRange(1, 1000)])
    submit = SubmitField(_l("Consign and invoice"))


class ClaimForm(FlaskForm):
    once = HiddenField()
    code_id = StringField(_l("Code ID"), [DataRequired(), Length(max=24)], filters=[_text])
    reason = StringField(_l("What failed"), [DataRequired(), Length(max=200)], filters=[_text])
    submit = SubmitField(_l("Report failed code"))


class RevealForm(FlaskForm):
    code_id = StringField(_l("Code ID"), [DataRequired(), Length(max=24)], filters=[_text])
    reason = StringField(_l("Reason"), [DataRequired(), Length(max=200)], filters=[_text])
    submit = SubmitField(_l("Reveal"))
