"""`/api/v1/me/notification-preferences`: how the caller hears of their notifications outside the app (email, SMS,
quiet hours), and a test message; `/api/v1/messaging/deliveries`: the district's view of delivery."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.params import JSONBody

from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.messaging import ports, service
from marketplace.messaging.schemas import DeliveryStats, PreferencesIn, PreferencesOut, TestIn, TestOut


class PreferencesController(Controller):
    path = "/api/v1/me/notification-preferences"
    tags = ["messaging"]

    @get("/", operation_id="getNotificationPreferences", summary="我的站外通知设置（邮件、短信、免打扰）")
    async def read(self, session: DbSession, principal: CurrentUser, settings: AppSettings) -> PreferencesOut:
        return await service.get_preferences(session, principal, set(ports.channels(settings)))

    @put("/", operation_id="putNotificationPreferences", summary="修改我的站外通知设置")
    async def write(
        self, data: JSONBody[PreferencesIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> PreferencesOut:
        return await service.put_preferences(session, principal, data, set(ports.channels(settings)))

    @post("/test", operation_id="sendTestNotification", summary="给我发送一条测试消息", status_code=200)
    async def test(
        self, data: JSONBody[TestIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> TestOut:
        return await service.send_test(session, principal, ports.channels(settings), data.channel, settings)


class DeliveryController(Controller):
    path = "/api/v1/messaging"
    tags = ["messaging"]

    @get("/deliveries", operation_id="getDeliveryStats", summary="站外通知投递情况（近7天计数与最近的失败）")
    async def deliveries(self, session: DbSession, principal: CurrentUser) -> DeliveryStats:
        return await service.stats(session, principal)


ROUTES = [PreferencesController, DeliveryController]
