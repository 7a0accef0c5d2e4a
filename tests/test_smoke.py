async def test_menu_reply(user):
    reply = await user.say("你好")
    assert "请回复数字" in reply
