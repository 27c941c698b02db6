"""Order sockets: thin listeners that forward frames rendered in orders.broadcasts.

`/ws/orders/<order_id>/` follows one order as the role the user had at connect;
`/ws/orders/` follows every order the user may see. `?format=json` switches
from HTML fragments to seed 001's JSON events.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from orders import broadcasts, selectors
from realtime import groups, roles
from realtime.consumers import CLOSE_FORBIDDEN, LATER, FanoutConsumer, Later, resync_frame
from realtime.db import db_sync_to_async


def _wants_json(scope: dict[str, Any]) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return query.get("format", [""])[-1] == "json"


class _OrderSocket(FanoutConsumer):
    """Every order socket is in groups.ORDER_CHANGES, so that its process hears of
    each order change and renders the cards its sockets need (orders.broadcasts)."""

    json_format = False

    def frame_for(self, group: str, event: dict[str, Any]) -> str | None:
        if event.get("kind") != broadcasts.EVENT_KIND:
            return None
        return event.get("json") if self.json_format else event.get("html")


class OrderConsumer(_OrderSocket):
    """One order's page: card, timeline and proofs, as customer, booster, staff or claimer."""

    async def connect(self) -> None:
        order_id = self.scope["url_route"]["kwargs"]["order_id"]
        try:
            order, self.audience = await db_sync_to_async(selectors.order_for_user)(order_id=order_id, user=self.user)
        except selectors.OrderAccessDenied:
            return await self.refuse(CLOSE_FORBIDDEN)
        self.json_format = _wants_json(self.scope)
        self.order_id = order.pk
        await self.join(groups.ORDER_CHANGES)
        await self.join(groups.order(order.pk))
        await self.accept_logged()

    def frame_for(self, group: str, event: dict[str, Any]) -> str | None:
        if event.get("kind") != broadcasts.EVENT_KIND:
            return None
        source = event.get("json") if self.json_format else event.get("frames")
        return (source or {}).get(self.audience)

    async def deliver_event(self, group: str, event: dict[str, Any]) -> None:
        if event.get("kind") != broadcasts.EVENT_KIND:
            return
        if event.get("removed"):
            return await self._revoke()
        booster_id, me = event.get("booster_id"), self.user.pk
        if self.audience == selectors.BOOSTER and booster_id != me:
            return await self._revoke()
        if self.audience == selectors.CLAIM and not event.get("claimable"):
            if booster_id != me:
                return await self._revoke()
            # This booster claimed it: from now on they see it as its booster.
            self.audience = selectors.BOOSTER
        frame = self.frame_for(group, event)
        if frame is not None:
            await self.send(text_data=frame)

    async def access_changed(self) -> None:
        # A role came or went: see the order as the user may now, or not at all.
        try:
            _order, audience = await db_sync_to_async(selectors.order_for_user)(order_id=self.order_id, user=self.user)
        except selectors.OrderAccessDenied:
            return await self._revoke()
        if audience != self.audience:
            self.audience = audience
            if not self.json_format:
                await self.send(text_data=resync_frame())  # the page re-reads itself as the new audience

    async def _revoke(self) -> None:
        """The user may no longer see this order: say so, take its controls off
        the page, then close like a refusal."""
        if self.json_format:
            await self.send(text_data=broadcasts.removed_event(self.order_id))
        else:
            await self.send(text_data=broadcasts.order_gone_frame())
        await self.close(code=CLOSE_FORBIDDEN)


class OrdersConsumer(_OrderSocket):
    """Every order the user may see: their own, the claim list for boosters (of
    the games and tiers they are approved for), all for staff."""

    claim_scope: selectors.ClaimScope

    role: str | None = None

    async def connect(self) -> None:
        self.json_format = _wants_json(self.scope)
        await self.join(groups.ORDER_CHANGES)
        await self.follow(await db_sync_to_async(roles.user_role)(self.user))
        await self.accept_logged()

    def frame_now(self, group: str, event: dict[str, Any]) -> str | None | Later:
        if event.get("kind") == broadcasts.CLAIM_SCOPE_KIND:
            return LATER
        return self.frame_for(group, event)

    async def deliver_event(self, group: str, event: dict[str, Any]) -> None:
        if event.get("kind") == broadcasts.CLAIM_SCOPE_KIND:
            return await self._approvals_changed()
        await super().deliver_event(group, event)

    async def _read_claim_scope(self) -> selectors.ClaimScope:
        def reread() -> selectors.ClaimScope:
            selectors.forget_claim_scope(self.user)
            return selectors.claim_scope(user=self.user)

        return await db_sync_to_async(reread)()

    async def _approvals_changed(self) -> None:
        self.claim_scope = await self._read_claim_scope()
        if not self.json_format:
            # The claim list on the page is for the old approvals: it re-reads itself.
            await self.send(text_data=resync_frame())

    def frame_for(self, group: str, event: dict[str, Any]) -> str | None:
        if (
            group == groups.BOOSTERS
            and "claim" in event
            and not selectors.scope_covers(self.claim_scope, event["claim"])
        ):
            return None  # not an order this booster may claim
        if self.json_format and self.user.pk in event.get("still_seen_by", ()):
            # The order left the claim list into this user's own orders (or was
            # theirs all along): "removed" would contradict their own update.
            return None
        return super().frame_for(group, event)

    async def follow(self, role: str) -> None:
        """Join exactly the groups this role sees (a booster's claim list filtered
        by their approvals, read before the first event can arrive)."""
        self.claim_scope = await self._read_claim_scope() if role == selectors.BOOSTER else {}
        if role == selectors.STAFF:
            wanted = {groups.STAFF}
        else:
            wanted = {groups.user(self.user.pk)} | ({groups.BOOSTERS} if role == selectors.BOOSTER else set())
        joined = self.groups_joined - {groups.user_sockets(self.user.pk), groups.ORDER_CHANGES}
        for group in joined - wanted:
            await self.leave(group)
        for group in wanted - joined:
            await self.join(group)
        self.role = role

    async def access_changed(self) -> None:
        # A former manager stops getting every order's prices, a former booster
        # the claim list; the dashboard re-reads itself for the new role.
        role = await db_sync_to_async(roles.user_role)(self.user)
        if role != self.role:
            await self.follow(role)
            if not self.json_format:
                await self.send(text_data=resync_frame())
