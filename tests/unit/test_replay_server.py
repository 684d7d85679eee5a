"""The replay server answers what was recorded, in sequence, slowly when asked, and records requests."""

import pytest
import requests

from tests.replay_server import ReplayServer


def test_the_replay_server_answers_in_sequence_times_out_and_records_requests():
    with ReplayServer() as s:
        s.add("GET", "/a", [429, 200], ["no", "yes"])
        s.add("GET", "/slow", 200, "x", delay=1)
        assert requests.get(s.url + "/a?x=1", timeout=5).status_code == 429
        assert requests.get(s.url + "/a", timeout=5).text == "yes"
        assert requests.get(s.url + "/a", timeout=5).text == "yes"  # the last answer repeats
        with pytest.raises(requests.Timeout):
            requests.get(s.url + "/slow", timeout=0.2)
        assert s.requests[0].query == {"x": "1"}
        assert requests.post(s.url + "/zz", data={"k": "v"}, timeout=5).status_code == 404
        assert s.requests[-1].query == {"k": "v"}
