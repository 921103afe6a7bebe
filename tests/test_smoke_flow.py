"""The foundation's main journey through the API, end to end."""

from voting.meetings.operations import current_code


def test_api_journey(client, organizer, api_token, make_deputies, make_meeting):
    headers = api_token(organizer)
    deputies = make_deputies(5)
    meeting = make_meeting()
    response = client.post(f"/api/v1/deputies/{deputies[0].id}/activation-code", headers=headers)
    assert response.status_code == 200, response.json
    code = response.json["activation_code"]
    response = client.post("/api/v1/activate", json={"activation_code": code})
    assert response.status_code == 200, response.json
    device = {"Authorization": "Bearer " + response.json["device_token"]}
    checkin = current_code(meeting).code
    response = client.post(f"/api/v1/meetings/{meeting.id}/checkin", json={"code": checkin}, headers=device)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "checked_in"
    response = client.post(f"/api/v1/meetings/{meeting.id}/checkin", json={"code": checkin}, headers=device)
    assert response.json["status"] == "already_checked_in"
    response = client.get(f"/api/v1/meetings/{meeting.id}", headers=headers)
    assert response.json["present"] == 1 and response.json["expected"] == 5
    assert response.json["quorum_required"] == 4 and response.json["quorum_met"] is False
