"""Configuration changes are recorded once, with what changed; variable names are not secrets."""

from __future__ import annotations

from enclave.audit.config_watch import record_config_change


def test_first_use_records_the_configuration(home, log):
    seq = record_config_change(log, home, actor="admin")
    entry = log.entry(seq)
    assert entry["action"] == "config.change"
    assert entry["details"]["first"] is True
    assert entry["details"]["settings"]["engine.kind"] == "llamacpp"
    assert entry["details"]["settings"]["engine.api_key_env"] == "ENCLAVE_ENGINE_API_KEY"


def test_unchanged_configuration_records_nothing(home, log):
    record_config_change(log, home, actor="admin")
    before = log.size()
    assert record_config_change(log, home, actor="admin") is None
    assert log.size() == before


def test_a_changed_key_is_recorded_with_old_and_new_value(home, log):
    record_config_change(log, home, actor="admin")
    changed = home.model_copy(update={"guard": home.guard.model_copy(update={"enabled": False})})
    seq = record_config_change(log, changed, actor="admin")
    assert log.entry(seq)["details"]["changed"] == {"guard.enabled": {"from": True, "to": False}}
    # and back again is a change too
    seq2 = record_config_change(log, home, actor="admin")
    assert log.entry(seq2)["details"]["changed"] == {"guard.enabled": {"from": False, "to": True}}
