async def test_register_then_me(api, make_user):
    ann = await make_user("Ann")
    r = await api.get("/api/v1/users/auth/me", headers=ann.headers)
    assert r.status_code == 200
    assert r.json()["data"]["_id"] == ann.id
    assert "password" not in r.json()["data"]
