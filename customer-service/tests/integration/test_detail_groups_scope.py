"""Customer detail shows only the groups of domains the caller may see."""


def test_detail_hides_groups_of_domains_the_caller_cannot_see(client, headers_for, factory):
    admin = headers_for(factories=[factory])
    cid = client.post("/api/v1/customers", headers=admin, json={
        "customer": {"name": "换域客户", "business_domain": "GW"}}).get_json()["data"]["id"]
    gid = client.post("/api/v1/customer-groups", headers=admin, json={
        "name": "仓储组", "business_domain": "GW"}).get_json()["data"]["id"]
    assert client.put(f"/api/v1/customer-groups/{gid}/members", headers=admin,
                      json={"customer_ids": [cid]}).status_code == 200
    assert client.put(f"/api/v1/customers/{cid}", headers=admin, json={"business_domain": "COLD"}).status_code == 200

    everything = client.get(f"/api/v1/customers/{cid}", headers=admin).get_json()["data"]
    assert [g["id"] for g in everything["groups"]] == [gid]
    cold_only = headers_for(roles=["viewer"], factories=[factory], domains=["COLD"])
    detail = client.get(f"/api/v1/customers/{cid}", headers=cold_only).get_json()["data"]
    assert detail["groups"] == []
    listed = client.get("/api/v1/customers", headers=cold_only).get_json()["data"]["items"]
    assert [c["groups"] for c in listed if c["id"] == cid] == [[]]
