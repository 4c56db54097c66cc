"""asterisk_conf/ is code: it parses, its jumps land, it keeps no secrets, it agrees with ivr/."""

from __future__ import annotations

import os
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from asterisk_sim.conf import (
    ConfError,
    Config,
    Dialplan,
    Step,
    match_pattern,
    parse_config,
    parse_dialplan,
    sample_resolver,
    split_args,
)
from ivr.prompts.catalogue import BY_ID
from tests.transcripts import transcript_dir

CONF_DIR = Path(__file__).resolve().parents[2] / "asterisk_conf"
CONF_FILES = sorted(p.name for p in CONF_DIR.glob("*.conf"))
SECRET_KEYS = {"secret", "password", "md5_cred"}
PLACEHOLDER = "CHANGE_ME"
# Entry points reached from outside the dialplan (trunk, AMI Originate/Redirect, phones).
ENTRY_POINTS = [
    ("cac311-inbound", "311"),
    ("cac311-inbound", "5075003110"),
    ("cac311-readback", "s"),
    ("cac311-readback", "2026000123"),
    ("cac311-readback-agent", "s"),
    ("cac311-callback", "s"),
    ("cac311-outbound", "60001234"),
    ("cac311-agents", "1001"),
    ("cac311-phones", "311"),
]
JUMPS = {"Goto", "Hangup", "Busy", "Congestion"}


@cache
def load(name: str) -> Config:
    return parse_config(CONF_DIR / name, resolve=sample_resolver)


@cache
def dialplan() -> Dialplan:
    return parse_dialplan(load("extensions.conf"))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def resolve_target(step: Step, target: str) -> tuple[str, str, str]:
    """(context, exten, priority-or-label) of a Goto-style target written in ``step``."""
    parts = [p.strip() for p in target.split(",")]
    if len(parts) == 1:
        return step.context, step.exten, parts[0]
    if len(parts) == 2:
        return step.context, parts[0], parts[1]
    return parts[0], parts[1], parts[2]


def goto_targets(step: Step) -> list[str]:
    if step.app == "Goto":
        return [step.args]
    if step.app == "GotoIf":
        _, branches = split_args(step.args, "?")
        return [b for b in split_args(branches, ":") if b.strip()]
    return []


# -- The parser ------------------------------------------------------------------------


def test_given_templates_and_additions_when_parsed_then_variables_are_inherited(tmp_path):
    path = write(
        tmp_path,
        "pjsip.conf",
        "[tpl](!)\ntype = aor ; trailing comment\nmax_contacts=1\n"
        "[1001](tpl)\nmax_contacts = 2\n"
        "[1001]\ntype=endpoint\n"
        ";-- a block comment\n[ignored]\n--;\n"
        "[1001](+)\nnote = a\\;b\nnote += c\n",
    )
    config = parse_config(path)
    aor, endpoint = config.sections("1001")
    assert aor.get("type") == "aor" and aor.get("max_contacts") == "2"
    assert aor.get("note") == "a;bc"
    assert endpoint.get("type") == "endpoint"
    assert [c.name for c in config.by_type("aor")] == ["1001"]
    assert "ignored" not in [c.name for c in config.categories]


def test_given_includes_when_parsed_then_included_text_continues_the_category(tmp_path):
    write(tmp_path, "site/x.conf.sample", "b = 2\n[other]\nc = 3\n")
    main = write(
        tmp_path,
        "main.conf",
        '[a]\na = 1\n#include "site/x.conf"\n#tryinclude "site/missing.conf"\n',
    )
    config = parse_config(main, resolve=sample_resolver)
    assert config.section("a").getall("b") == ["2"]
    assert config.section("other").get("c") == "3"
    with pytest.raises(ConfError, match="missing file site/x.conf"):
        parse_config(main)  # without the sample fallback, like Asterisk


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("x = 1\n", "no category"),
        ("[a](+)\n", "does not exist"),
        ("[a](nope)\n", "inheritance"),
        ("[a]\njunk\n", "no '='"),
        ("[c]\nsame => n,NoOp()\n", "before any"),
        ("[c]\nexten => s,n,NoOp()\n", "first priority"),
        ("[c]\nexten => s,x1,NoOp()\n", "bad priority"),
        ("[a]\n;-- open\n", "unterminated"),
    ],
)
def test_given_bad_syntax_when_parsed_then_conf_error_names_it(tmp_path, text, error):
    path = write(tmp_path, "bad.conf", text)
    with pytest.raises(ConfError, match=error):
        parse_dialplan(parse_config(path))


def test_given_patterns_when_matched_then_asterisk_rules_apply():
    assert match_pattern("_X.", "5075003110")
    assert not match_pattern("_X.", "s")
    assert match_pattern("_1XXX", "1001") and not match_pattern("_1XXX", "10011")
    assert match_pattern("_+X.", "+5073110000")
    assert match_pattern("_N[1-3]!", "21")


# -- Every file ------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONF_FILES)
def test_given_each_conf_file_when_parsed_with_sample_site_files_then_valid(name):
    config = load(name)
    assert config.categories, name


def test_given_captured_asterisk_22_configs_when_parsed_then_the_parser_reads_ground_truth():
    configs = transcript_dir() / "configs"
    if not configs.is_dir():
        pytest.skip(f"captured configs not found in {configs}")
    plan = parse_dialplan(parse_config(configs / "extensions.conf"))
    assert plan.find_exten("cac311-inbound", "311") == "311"
    queue = parse_config(configs / "queues.conf").section("cac311")
    assert queue.get("servicelevel") == "15"


def test_given_the_site_samples_then_every_include_is_a_site_file_with_a_sample():
    for name in CONF_FILES:
        for included in load(name).included:
            assert included.parent.name == "site" and included.name.endswith(".conf.sample")


# -- The dialplan ------------------------------------------------------------------------


def test_given_the_dialplan_then_priorities_start_at_1_and_run_without_gaps():
    for context, extens in dialplan().contexts.items():
        for exten, steps in extens.items():
            numbers = [s.priority for s in steps]
            assert numbers == list(range(1, len(steps) + 1)), f"{context},{exten}: {numbers}"
            labels = [s.label for s in steps if s.label]
            assert len(labels) == len(set(labels)), f"{context},{exten}: duplicate label"


def test_given_the_dialplan_then_no_step_is_unreachable_after_an_unconditional_jump():
    for extens in dialplan().contexts.values():
        for steps in extens.values():
            for before, after in zip(steps, steps[1:], strict=False):
                if before.app in JUMPS:
                    assert after.label, f"{after.file}:{after.lineno} cannot be reached"


def test_given_every_goto_then_context_extension_and_priority_exist():
    plan = dialplan()
    checked = 0
    for step in plan.steps():
        for target in goto_targets(step):
            context, exten, prio = resolve_target(step, target)
            where = f"{step.file}:{step.lineno} {target}"
            assert context in plan.contexts, where
            if "${" in exten:
                continue
            found = plan.find_exten(context, exten)
            assert found is not None, where
            steps = plan.contexts[context][found]
            assert prio in {str(s.priority) for s in steps} | {s.label for s in steps}, where
            checked += 1
    assert checked > 10


def test_given_the_outside_entry_points_then_each_reaches_an_extension():
    plan = dialplan()
    for context, exten in ENTRY_POINTS:
        assert plan.find_exten(context, exten) is not None, (context, exten)


def test_given_dial_and_endpoint_contexts_then_they_exist_in_the_dialplan():
    plan = dialplan()
    for step in plan.steps():
        if step.app == "Dial":
            for local in re.findall(r"Local/[^@,&]+@([\w-]+)", step.args):
                assert local in plan.contexts, f"{step.file}:{step.lineno}"
    endpoints = load("pjsip.conf").by_type("endpoint")
    assert endpoints
    for endpoint in endpoints:
        assert endpoint.get("context") in plan.contexts, endpoint.name


def test_given_every_agi_step_then_it_uses_the_global_server_and_fails_open():
    plan = dialplan()
    agi_steps = [s for s in plan.steps() if s.app == "AGI"]
    assert agi_steps
    for step in agi_steps:
        assert step.args.startswith("agi://${CAC311_FASTAGI}/"), step.args
        steps = plan.contexts[step.context][step.exten]
        rest = steps[step.priority :]
        if rest and rest[0].app == "Goto":  # a shared "after" extension checks AGISTATUS
            context, exten, _ = resolve_target(rest[0], rest[0].args)
            rest = plan.contexts[context][exten]
        checks = [s for s in rest if s.app == "GotoIf" and "AGISTATUS" in s.args]
        assert checks, f"{step.file}:{step.lineno} does not look at AGISTATUS"


def test_given_an_inbound_call_when_fastagi_fails_then_the_caller_reaches_the_queue():
    steps = dialplan().contexts["cac311-inbound"]["s"]
    failopen = next(s for s in steps if s.label == "failopen")
    after = steps[failopen.priority - 1 :]
    assert [s.app for s in after][:3] == ["Set", "Playback", "Goto"]
    assert after[2].args == "queue,1"
    queue = dialplan().contexts["cac311-inbound"]["queue"]
    assert "Queue" in [s.app for s in queue]
    assert "Hangup" not in [s.app for s in queue]  # 24/7: the caller goes back in, never out
    assert queue[-1].app == "Goto" and queue[-1].args == "again"


def test_given_recording_then_the_notice_is_played_first_and_the_path_is_dated():
    plan = dialplan()
    monitored = [s for s in plan.steps() if s.app == "MixMonitor"]
    assert len(monitored) == 2
    for step in monitored:
        before = plan.contexts[step.context][step.exten][: step.priority - 1]
        played = " ".join(s.args for s in before if s.app == "Playback")
        assert "cac311/aviso-grabacion" in played
        assert step.args == "${CAC311_RECORDING}"
        recording = next(s for s in before if s.args.startswith("CAC311_RECORDING="))
        assert recording.args == (
            "CAC311_RECORDING=${CAC311_RECORDINGS_DIR}/"
            "${STRFTIME(${EPOCH},UTC,%Y/%m/%d)}/${UNIQUEID}.wav"
        )


def test_given_the_callback_survey_when_the_flow_asks_for_an_agent_then_the_queue_follows():
    after = dialplan().contexts["cac311-callback"]["after"]
    transfer = next(s for s in after if s.app == "GotoIf" and "CAC311_TRANSFER" in s.args)
    assert '"${CAC311_TRANSFER}" = "queue"' in transfer.args
    assert dialplan().contexts["cac311-callback"]["satisfaction"][0].args.endswith("/satisfaction")


def test_given_site_globals_sample_then_every_key_has_a_default_in_extensions_conf():
    merged = load("extensions.conf").section("globals").variables
    from_site = [v.name for v in merged if v.file == "globals.conf.sample"]
    defaults = [v.name for v in merged if v.file == "extensions.conf"]
    assert from_site and set(from_site) <= set(defaults)
    used = set(re.findall(r"\$\{(CAC311_[A-Z_]+)\}", (CONF_DIR / "extensions.conf").read_text()))
    assert {"CAC311_FASTAGI", "CAC311_RECORDINGS_DIR", "CAC311_QUEUE_TIMEOUT"} <= used


def test_given_played_files_then_each_cac311_file_is_in_the_prompt_catalogue():
    files = {p.file for p in BY_ID.values()}
    played: list[str] = []
    for step in dialplan().steps():
        if step.app in {"Playback", "Background"}:
            played += split_args(step.args)[0].split("&")
        elif step.app == "Read":
            played += split_args(step.args)[1].split("&")
        elif step.app == "ExecIf":
            played += re.findall(r"Playback\((cac311/[\w-]+)\)", step.args)
    played += load("queues.conf").section("cac311").getall("periodic-announce")
    ours = [f for f in played if f.startswith("cac311/")]
    assert ours
    assert sorted(set(ours) - files) == []


def test_given_agi_routes_then_they_match_ivr_routes_both_ways():
    routes_module = pytest.importorskip(
        "ivr.routes", reason="ivr.routes (the FastAGI route table) is not written yet"
    )
    ours = {s.args.rsplit("/", 1)[1].split(",")[0] for s in dialplan().steps() if s.app == "AGI"}
    assert ours == set(routes_module.ROUTES)


# -- Queue, manager, secrets --------------------------------------------------------------


def test_given_queues_conf_then_cac311_is_a_24_7_queue_with_a_15_second_service_level():
    queue = load("queues.conf").section("cac311")
    assert queue.get("servicelevel") == "15"
    assert queue.get("ringinuse") == "no"
    assert queue.get("joinempty") == "yes" and queue.get("leavewhenempty") == "no"
    assert queue.get("setinterfacevar") == "yes"  # the read-back dials MEMBERINTERFACE back
    assert queue.getall("member") == []  # members come from the desktop (QueueAdd)
    assert load("queues.conf").section("general").get("persistentmembers") == "yes"
    removed = {"eventwhencalled", "eventmemberstatus", "monitor-join", "monitor-format"}
    assert not removed & {v.name for v in queue.variables}
    queue_apps = [s for s in dialplan().steps() if s.app == "Queue"]
    assert {split_args(s.args)[0] for s in queue_apps} == {"cac311"}


def test_given_manager_conf_then_the_cac311_user_has_least_privilege():
    manager = load("manager.conf")
    user = manager.section("cac311")
    write_classes = set(user.get("write", "").split(","))
    read_classes = set(user.get("read", "").split(","))
    assert {"call", "originate", "agent"} <= write_classes
    assert not {"all", "command", "config", "system"} & write_classes
    assert "all" not in read_classes
    assert user.getall("deny") == ["0.0.0.0/0.0.0.0"] and user.getall("permit")
    main_only = parse_config(CONF_DIR / "manager.conf", resolve=lambda p: Path(os.devnull))
    assert main_only.section("general").get("port") == "5038"
    assert main_only.section("general").get("bindaddr") is None  # never 0.0.0.0 by default
    assert manager.section("general").get("bindaddr")  # from the site file only


def test_given_tracked_files_then_no_secret_is_hard_coded():
    assignment = re.compile(r"^\s*([A-Za-z_]+)\s*=>?\s*(.*?)\s*(;.*)?$")
    found = 0
    for path in sorted(CONF_DIR.rglob("*")):
        if not path.is_file() or path.name in {".gitignore", "README.md"}:
            continue
        if path.parent.name == "site" and not path.name.endswith(".sample"):
            continue  # a real site file on an operator's machine, ignored by git
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = assignment.match(line)
            if match and match[1].lower() in SECRET_KEYS:
                found += 1
                assert path.name.endswith(".sample"), f"{path.name}:{lineno} secret in git"
                assert match[2] == PLACEHOLDER, f"{path.name}:{lineno}"
    assert found >= 5  # the AMI secret, three phones, the trunk


def test_given_site_gitignore_then_real_site_files_never_reach_git():
    ignore = (CONF_DIR / "site" / ".gitignore").read_text().splitlines()
    assert "*.conf" in ignore
    done = subprocess.run(
        ["git", "check-ignore", "-q", str(CONF_DIR / "site" / "manager.conf")],
        cwd=CONF_DIR,
        capture_output=True,
        check=False,
    )
    if done.returncode == 128:
        pytest.skip("not a git work tree")
    assert done.returncode == 0


def test_given_pjsip_conf_then_each_agent_phone_has_endpoint_aor_and_auth():
    pjsip = load("pjsip.conf")
    agents = [e for e in pjsip.by_type("endpoint") if e.get("context") == "cac311-phones"]
    assert len(agents) == 3
    aors = {a.name for a in pjsip.by_type("aor")}
    auths = {a.name: a for a in pjsip.by_type("auth")}
    for endpoint in agents:
        assert endpoint.get("aors") in aors
        auth = auths[endpoint.get("auth")]
        assert auth.get("username") == endpoint.name and auth.get("password")
        assert match_pattern("_1XXX", endpoint.name)  # what [cac311-agents] dials
    trunk = [e for e in pjsip.by_type("endpoint") if e.get("context") == "cac311-inbound"]
    assert [t.name for t in trunk] == [dialplan().globals["CAC311_TRUNK"]]
    assert trunk[0].get("callerid") is None  # would overwrite the citizen's caller ID


def test_given_the_dialers_callback_kinds_then_the_dialplan_routes_the_survey_kind():
    from case_core.domain.callbacks import CallbackKind

    steps = dialplan().contexts["cac311-callback"]["s"]
    kind_check = next(s for s in steps if s.app == "GotoIf" and "CAC311_CALLBACK_KIND" in s.args)
    assert f'"{CallbackKind.SATISFACCION.value}"' in kind_check.args
    assert kind_check.args.endswith("?satisfaction,1")


NATIONAL = ("+50761234567", "61234567", "+5072345678", "2345678", "9876543", "+5079876543")
NOT_NATIONAL = (
    "+13055550100",  # abroad
    "0019005550100",
    "50761234567",  # country code without +
    "6123456",  # 7 digits starting 6: neither fixed nor mobile
    "71234567",  # 8 digits not starting 6
    "911",
    "+5076123456",
    "612345678",
)


@pytest.mark.parametrize("context", ["cac311-outbound", "cac311-callback-manual"])
def test_given_callback_numbers_then_only_panamas_national_plan_is_dialled(context):
    from case_core.domain.errors import InvalidPhone
    from case_core.domain.phone import normalise_phone

    patterns = [p for p in dialplan().contexts[context] if p.startswith("_")]
    for number in NATIONAL:
        assert any(match_pattern(p, number) for p in patterns), number
        normalise_phone(number)  # the dialer accepts it too
    for number in NOT_NATIONAL:
        assert not any(match_pattern(p, number) for p in patterns), number
    # No other way in: every extension of the context is one of these patterns or "dial".
    assert set(dialplan().contexts[context]) - set(patterns) <= {"dial"}
    with pytest.raises(InvalidPhone):
        normalise_phone("6123456")


def test_given_pjsip_conf_and_its_site_sample_then_no_transport_binds_every_address():
    for path in [CONF_DIR / "pjsip.conf", CONF_DIR / "site" / "pjsip.conf.sample"]:
        binds = re.findall(r"^\s*bind\s*=\s*(\S+)", path.read_text(encoding="utf-8"), re.M)
        assert not [b for b in binds if b.startswith(("0.0.0.0", "[::]", ":"))], path
    pjsip = load("pjsip.conf")
    transports = pjsip.by_type("transport")
    assert [t.name for t in transports] == ["transport-udp"]
    assert transports[0].get("bind") == "127.0.0.1:5060"  # from the site sample
    text = (CONF_DIR / "pjsip.conf").read_text(encoding="utf-8")
    assert not re.search(r"^\s*bind\s*=", text, re.M)  # the address comes from site/ only


def test_given_the_trunk_identify_then_it_matches_ip_ranges_not_host_names():
    import ipaddress

    identify = load("pjsip.conf").by_type("identify")
    assert identify
    for section in identify:
        matches = section.getall("match")
        assert matches
        for value in matches:
            ipaddress.ip_network(value, strict=False)  # raises on a host name


def test_given_modules_conf_then_only_listed_modules_load_and_the_noisy_ones_are_absent():
    modules = load("modules.conf").section("modules")
    assert modules.get("autoload") == "no"
    loaded = set(modules.getall("load"))
    assert {"res_pjsip.so", "chan_pjsip.so", "app_queue.so", "res_agi.so"} <= loaded
    assert set(modules.getall("require")) <= loaded
    for noisy in ("pbx_ael.so", "res_config_pgsql.so", "cdr_pgsql.so", "cel_pgsql.so"):
        assert noisy not in loaded
    # Every application the dialplan runs comes from a listed module (or the core).
    core = {"Answer", "Set", "NoOp", "Goto", "GotoIf", "Hangup", "Wait", "Busy", "Congestion",
            "SayDigits", "Bridge", "Background"}  # fmt: skip
    module_of = {"AGI": "res_agi.so", "Queue": "app_queue.so", "Dial": "app_dial.so",
                 "Playback": "app_playback.so", "Read": "app_read.so", "ExecIf": "app_exec.so",
                 "MixMonitor": "app_mixmonitor.so", "MusicOnHold": "res_musiconhold.so",
                 "SoftHangup": "app_softhangup.so", "UserEvent": "app_userevent.so",
                 "Gosub": "app_stack.so", "ChanSpy": "app_chanspy.so",
                 "BridgeWait": "app_bridgewait.so", "Return": "app_stack.so"}  # fmt: skip
    for step in dialplan().steps():
        if step.app in core:
            continue
        assert module_of.get(step.app) in loaded, step.app


def test_given_musiconhold_conf_then_the_default_class_has_its_own_directory():
    moh = load("musiconhold.conf").section("default")
    assert moh.get("mode") == "files"
    assert moh.get("directory") == "moh/cac311"
    assert load("queues.conf").section("cac311").get("musicclass") == "default"
    assert load("queues.conf").section("cac311").get("periodic-announce")


def test_given_the_read_back_then_the_caller_is_bridged_back_to_the_waiting_agent():
    from agent_desktop.ports import READBACK_AGENT_CONTEXT, READBACK_AGENT_EXTEN
    from ami.tracker import READBACK_AGENT_VAR

    steps = dialplan().contexts["cac311-readback"]["s"]
    apps = [s.app for s in steps]
    bridge = next(s for s in steps if s.app == "Bridge")
    assert bridge.args == "${" + READBACK_AGENT_VAR + "},x"  # the agent's leg ends with the caller
    # The bridge comes after the number was said, both by FastAGI and by the fallback.
    back = next(s for s in steps if s.label == "back")
    assert back.priority < bridge.priority
    assert apps.index("AGI") < apps.index("Bridge") and apps.index("SayDigits") < apps.index(
        "Bridge"
    )
    after = steps[bridge.priority]
    assert after.app == "GotoIf" and '"${BRIDGERESULT}" = "SUCCESS"' in after.args
    assert "Dial" in apps[bridge.priority :]  # the agent's leg gone: dial the agent back
    # The agent waits silently, bounded, then the leg ends.
    wait = dialplan().contexts[READBACK_AGENT_CONTEXT][READBACK_AGENT_EXTEN]
    assert [s.app for s in wait] == ["NoOp", "Wait", "Hangup"]
    assert wait[1].args == "${CAC311_READBACK_AGENT_WAIT}"
    assert int(dialplan().globals["CAC311_READBACK_AGENT_WAIT"]) >= 60
    # A caller who hangs up during the read-back frees the waiting agent.
    hangup = dialplan().contexts["cac311-readback"]["h"]
    assert [s.app for s in hangup] == ["GotoIf", "SoftHangup", "NoOp"]
    assert hangup[1].args == "${" + READBACK_AGENT_VAR + "}"


def test_given_the_inbound_greeting_then_a_key_stops_it_and_reaches_the_flow():
    steps = dialplan().contexts["cac311-inbound"]["s"]
    greeting = next(s for s in steps if "cac311/bienvenida" in s.args)
    # Read() keeps the key (Playback() would drop it); 1 key, 1 attempt, a short wait after.
    assert greeting.app == "Read"
    assert split_args(greeting.args)[:3] == ["CAC311_FIRST_KEY", "cac311/bienvenida", "1"]
    notice = next(s for s in steps if "cac311/aviso-grabacion" in s.args)
    # The legal notice is played whole, before the recording starts and the AGI reads the key.
    assert notice.app == "Playback" and greeting.priority < notice.priority
    apps = [s.app for s in steps]
    assert notice.priority < apps.index("MixMonitor") + 1 < apps.index("AGI") + 1
