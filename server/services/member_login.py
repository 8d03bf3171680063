"""Members logging in on their phone: one-time SMS codes, registration, devices, WeChat bindings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from server.domain.errors import Conflict, InvalidRequest, MemberFrozen, MemberNotFound
from server.domain.identifiers import normalize_mobile
from server.domain.statuses import MemberStatus
from server.extensions import db
from server.models import Member, MemberDevice, WechatBinding
from server.models.base import utcnow
from server.notifications.sms import queue_sms
from server.security.pii import keyed_hash, phone_lookup_hash
from server.services import member_codes, one_time_codes, recruitment
from server.services.alliance import get_settings
from server.services.audit import audit
from server.services.members import issue_electronic_card, register_member
from server.services.posters import poster_merchant
from server.services.unit_of_work import transactional


@dataclass(frozen=True)
class MemberLogin:
    """A member logged in on a new device: the session token (cookie) and the device's code secret."""

    member: Member
    device: MemberDevice
    session_token: str
    code_secret: bytes
    registered: bool


def openid_hash(openid: str) -> str:
    """The keyed hash a WeChat openid is stored as."""
    return keyed_hash(f"wechat-openid:{openid}")


@transactional
def request_login_code(phone: str) -> int:
    """Send a one-time code to ``phone`` (queued in the SMS outbox); return the queued message's id."""
    return text_login_code("login", normalize_mobile(phone))


def text_login_code(purpose: str, mobile: str) -> int:
    """Issue a one-time sign-in code for ``purpose`` (members, agents) and queue its SMS; the message's id."""
    code, expires_at = one_time_codes.issue_code(purpose, phone_lookup_hash(mobile))
    return queue_sms(
        mobile,
        "login_code",
        secret=code,
        secret_expires_at=expires_at,
        alliance=get_settings().name,
        minutes=one_time_codes.ttl_minutes(),
    ).id


@transactional
def log_in(
    phone: str,
    code: str,
    *,
    register: bool = False,
    consent: bool = False,
    poster_token: str | None = None,
    invite_token: str | None = None,
    agent_token: str | None = None,
    device_label: str = "",
    wechat_openid: str | None = None,
) -> MemberLogin:
    """Check the one-time code, register the member if asked (with consent), and provision a new device."""
    mobile = normalize_mobile(phone)
    one_time_codes.check_code("login", phone_lookup_hash(mobile), code)
    member = db.session.scalar(select(Member).where(Member.phone_hash == phone_lookup_hash(mobile)))
    registered = False
    if member is not None and member.status == MemberStatus.FROZEN:
        raise MemberFrozen()
    if member is not None and member.status != MemberStatus.ACTIVE:
        raise MemberNotFound("This account was closed.")
    if member is None:
        if not register:
            raise MemberNotFound("No member has this phone number yet; register first.")
        if not consent:
            raise InvalidRequest("Please agree to the privacy terms.", field="consent")
        member = register_member(
            "member:self",
            mobile,
            recruited_by=poster_merchant(poster_token),
            invited_by=recruitment.inviter_of(invite_token),
            recruited_by_agent=recruitment.recruiting_agent_of(agent_token),
        )
        issue_electronic_card(f"member:{member.id}", member.id)
        registered = True
    device, secret, token = member_codes.provision_device(member.id, device_label)
    if wechat_openid:
        bind_wechat(member.id, wechat_openid)
    audit(f"member:{member.id}", "member.login", "member", member.id, device_id=device.id, registered=registered)
    return MemberLogin(member, device, token, secret, registered)


def bind_wechat(member_id: str, openid: str) -> None:
    """Bind a WeChat openid to the member (flushes only); an openid bound to someone else is refused."""
    hashed = openid_hash(openid)
    bound_to = db.session.scalar(select(WechatBinding.member_id).where(WechatBinding.openid_hash == hashed))
    if bound_to is not None and bound_to != member_id:
        raise Conflict("This WeChat account is bound to another member.")
    if bound_to is None:
        db.session.add(WechatBinding(openid_hash=hashed, member_id=member_id))
        audit(f"member:{member_id}", "member.bind_wechat", "member", member_id)


@transactional
def log_in_with_wechat(openid: str, device_label: str = "") -> MemberLogin | None:
    """A new device for the member bound to ``openid``, or None (the phone must be verified first)."""
    member_id = db.session.scalar(
        select(WechatBinding.member_id).where(WechatBinding.openid_hash == openid_hash(openid))
    )
    member = db.session.get(Member, member_id) if member_id else None
    if member is None or member.status != MemberStatus.ACTIVE:
        return None
    device, secret, token = member_codes.provision_device(member.id, device_label)
    audit(f"member:{member.id}", "member.login_wechat", "member", member.id, device_id=device.id)
    return MemberLogin(member, device, token, secret, False)


@transactional
def log_out(session_token: str) -> None:
    """End the device's session; its dynamic codes stop being accepted."""
    device = member_codes.device_for_session(session_token)
    if device is not None:
        member_codes.revoke_device(device)
        audit(f"member:{device.member_id}", "member.logout", "member", device.member_id, device_id=device.id)


@transactional
def touch_device(device_id: str) -> None:
    """Remember when the device was last seen."""
    db.session.execute(update(MemberDevice).where(MemberDevice.id == device_id).values(last_seen_at=utcnow()))
