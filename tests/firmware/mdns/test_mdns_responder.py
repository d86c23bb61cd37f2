"""The sans-IO mDNS responder, read back by python-zeroconf's own parser; hand-derived bytes; hostile input."""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from zeroconf import DNSAddress, DNSIncoming, DNSOutgoing, DNSPointer, DNSQuestion, DNSRecord, DNSService, DNSText

from firmware.mdns import MDNS_GROUP, Responder, Service
from firmware.mdns.responder import ANNOUNCING, IDLE, PROBING, RUNNING, STOPPED, encode_txt

HOST = "maderas-tank-00ab"
ADDRESS = "10.0.0.7"
ASKER = "10.0.0.9"
MODBUS = "_modbus._tcp.local."
INSTANCE = "Tank 00AB"
FULL = f"{INSTANCE}.{MODBUS}"
SERVICES = "_services._dns-sd._udp.local."
TXT = [("vendor", "Maderas"), ("model", "MT-1"), ("fw", "1.0"), ("unit", "1"), ("serial", "00AB")]
TXT_WIRE = b"\x0evendor=Maderas\x0amodel=MT-1\x06fw=1.0\x06unit=1\x0bserial=00AB"  # length-prefixed key=value
A, PTR, TXT_TYPE, SRV, ANY, IN = 1, 12, 16, 33, 255, 1
RUNNING_AT = 5000  # ms: after the announcements, and over a second after the last multicast


def tank(address: object = ADDRESS, **kw: object) -> Responder:
    return Responder(HOST, address, [Service(INSTANCE, "_modbus._tcp", 502, TXT)], rand=lambda n: 0, **kw)


def run_up(responder: Responder) -> list[bytes]:
    """Start, probe and announce; return every packet sent, all multicast."""
    responder.start(0)
    sent = []
    for now in range(0, 2001, 50):
        for packet, dest in responder.poll(now):
            assert dest == MDNS_GROUP
            sent.append(packet)
    assert responder.state == RUNNING
    return sent


def running(address: object = ADDRESS) -> Responder:
    responder = tank(address)
    run_up(responder)
    return responder


def query(*questions: tuple[str, int], qu: bool = False, known: Iterable[DNSRecord] = (), id_: int = 0) -> bytes:
    out = DNSOutgoing(0, multicast=not id_, id_=id_)  # python-zeroconf writes ID 0 in multicast messages
    for name, type_ in questions:
        question = DNSQuestion(name, type_, IN)
        question.unicast = qu
        out.add_question(question)
    for record in known:
        out.add_answer_at_time(record, 0)
    [packet] = out.packets()
    return packet


def parse(packet: bytes) -> tuple[DNSIncoming, list[DNSRecord], list[DNSRecord], list[DNSRecord]]:
    """A packet as python-zeroconf reads it: every record must decode; answers, authority, additional."""
    message = DNSIncoming(packet)
    assert message.valid
    records = message.answers()
    assert len(records) == message.num_answers + message.num_authorities + message.num_additionals
    a, b = message.num_answers, message.num_answers + message.num_authorities
    return message, records[:a], records[a:b], records[b:]


def summary(records: Iterable[DNSRecord]) -> list[tuple[str, int, int, bool]]:
    return [(r.name, r.type, r.ttl, r.unique) for r in records]


def ask(responder: Responder, packet: bytes, port: int = 5353, now: int = RUNNING_AT) -> list[tuple[bytes, object]]:
    return responder.handle(packet, ASKER, port, now)


def only_reply(responder: Responder, packet: bytes, **kw: int) -> tuple[DNSIncoming, list[DNSRecord], list[DNSRecord]]:
    [(reply, dest)] = ask(responder, packet, **kw)
    assert dest == MDNS_GROUP
    message, answers, authority, additional = parse(reply)
    assert message.is_response() and message.flags == 0x8400 and message.id == 0 and not message.questions
    assert authority == []
    return message, answers, additional


# probing and announcing


def test_probes_three_times_250_ms_apart_with_the_proposed_records_as_authority() -> None:
    responder = Responder(HOST, ADDRESS, [Service(INSTANCE, "_modbus._tcp", 502, TXT)], rand=lambda n: 120)
    assert responder.state == IDLE and responder.poll(0) == []
    responder.start(1000)
    assert responder.state == PROBING and responder.next_due() == 1120  # the random first delay
    assert responder.poll(1119) == []
    sent = [(now, packet, dest) for now in range(1120, 1871) for packet, dest in responder.poll(now)]
    assert [now for now, _, _ in sent] == [1120, 1370, 1620, 1870]  # then the first announcement 250 ms later
    for _, packet, dest in sent[:3]:
        message, answers, authority, additional = parse(packet)
        assert message.is_query() and message.id == 0 and dest == MDNS_GROUP
        assert [(q.name, q.type, q.unicast) for q in message.questions] == [
            (f"{HOST}.local.", ANY, True),
            (FULL, ANY, True),
        ]
        assert answers == [] and additional == []
        assert summary(authority) == [
            (f"{HOST}.local.", A, 120, False),
            (FULL, SRV, 120, False),
            (FULL, TXT_TYPE, 4500, False),
        ]
    assert parse(sent[3][1])[0].is_response() and responder.state == ANNOUNCING


def test_announces_twice_a_second_apart_with_cache_flush_on_unique_records_only() -> None:
    responder = tank()
    sent = run_up(responder)
    announcements = [parse(p) for p in sent[3:]]
    assert len(announcements) == 2
    for message, answers, _, additional in announcements:
        assert message.is_response() and message.flags == 0x8400 and additional == []
        assert summary(answers) == [
            (f"{HOST}.local.", A, 120, True),
            (MODBUS, PTR, 4500, False),
            (FULL, SRV, 120, True),
            (FULL, TXT_TYPE, 4500, True),
            (SERVICES, PTR, 4500, False),
        ]
        a, ptr, srv, txt, services = answers
        assert isinstance(a, DNSAddress) and a.address == bytes([10, 0, 0, 7])
        assert isinstance(ptr, DNSPointer) and ptr.alias == FULL
        assert isinstance(srv, DNSService) and (srv.port, srv.server, srv.priority, srv.weight) == (
            502,
            f"{HOST}.local.",
            0,
            0,
        )
        assert isinstance(txt, DNSText) and txt.text == TXT_WIRE
        assert isinstance(services, DNSPointer) and services.alias == MODBUS
    assert responder.next_due() is None


def test_goodbye_repeats_every_record_with_ttl_zero_and_stops() -> None:
    responder = running()
    [(packet, dest)] = responder.stop(RUNNING_AT)
    _, answers, _, _ = parse(packet)
    assert dest == MDNS_GROUP and responder.state == STOPPED
    assert sorted((r.name, r.type, r.ttl) for r in answers) == sorted(
        [(f"{HOST}.local.", A, 0), (MODBUS, PTR, 0), (FULL, SRV, 0), (FULL, TXT_TYPE, 0), (SERVICES, PTR, 0)]
    )
    assert ask(responder, query((MODBUS, PTR))) == [] and responder.poll(RUNNING_AT + 5000) == []
    # nothing was announced yet: nothing to take back
    quiet = tank()
    quiet.start(0)
    assert quiet.stop(0) == []


# answering


def test_a_ptr_query_gets_srv_txt_and_a_as_additional_records() -> None:
    _, answers, additional = only_reply(running(), query((MODBUS, PTR)))
    assert summary(answers) == [(MODBUS, PTR, 4500, False)]
    assert summary(additional) == [
        (FULL, SRV, 120, True),
        (FULL, TXT_TYPE, 4500, True),
        (f"{HOST}.local.", A, 120, True),
    ]


@pytest.mark.parametrize(("name", "type_", "expected", "extra"), [
    (FULL, SRV, [(FULL, SRV, 120, True)], [(f"{HOST}.local.", A, 120, True)]),
    (FULL, TXT_TYPE, [(FULL, TXT_TYPE, 4500, True)], []),
    (FULL, ANY, [(FULL, SRV, 120, True), (FULL, TXT_TYPE, 4500, True)], [(f"{HOST}.local.", A, 120, True)]),
    (f"{HOST}.local.", A, [(f"{HOST}.local.", A, 120, True)], []),
    (f"{HOST}.local.", ANY, [(f"{HOST}.local.", A, 120, True)], []),
    (SERVICES, PTR, [(SERVICES, PTR, 4500, False)], []),
    ("TANK 00ab._MODBUS._Tcp.LOCAL.", SRV, [(FULL, SRV, 120, True)], [(f"{HOST}.local.", A, 120, True)]),
])  # fmt: skip
def test_each_question_gets_its_records_and_the_recommended_additional_ones(
    name: str, type_: int, expected: list[tuple[str, int, int, bool]], extra: list[tuple[str, int, int, bool]]
) -> None:
    _, answers, additional = only_reply(running(), query((name, type_)))
    assert summary(answers) == expected and summary(additional) == extra


@pytest.mark.parametrize(("name", "type_"), [
    ("_http._tcp.local.", PTR), (f"{HOST}.local.", 28), ("Other._modbus._tcp.local.", SRV), (FULL, A),
    ("maderas-tank-00ab.lan.", A),
])  # fmt: skip
def test_questions_about_anything_else_get_no_answer(name: str, type_: int) -> None:
    assert ask(running(), query((name, type_))) == []


def test_a_question_of_another_class_gets_no_answer() -> None:
    out = DNSOutgoing(0)
    out.add_question(DNSQuestion(f"{HOST}.local.", A, 3))  # CHAOS
    [packet] = out.packets()
    assert ask(running(), packet) == []


def test_a_qu_question_is_answered_unicast_and_a_qm_one_in_the_same_query_by_multicast() -> None:
    responder = running()
    replies = ask(responder, query((MODBUS, PTR), qu=True))
    [(packet, dest)] = replies
    assert dest == (ASKER, 5353)
    _, answers, _, additional = parse(packet)
    assert summary(answers) == [(MODBUS, PTR, 4500, False)] and len(additional) == 3

    out = DNSOutgoing(0)
    unicast = DNSQuestion(FULL, TXT_TYPE, IN)
    unicast.unicast = True
    out.add_question(unicast)
    out.add_question(DNSQuestion(f"{HOST}.local.", A, IN))
    [mixed] = out.packets()
    by_dest = {dest: parse(packet)[1] for packet, dest in ask(responder, mixed)}
    assert summary(by_dest[(ASKER, 5353)]) == [(FULL, TXT_TYPE, 4500, True)]
    assert summary(by_dest[MDNS_GROUP]) == [(f"{HOST}.local.", A, 120, True)]


def test_a_query_sent_to_our_own_address_is_answered_unicast() -> None:
    [(packet, dest)] = running().handle(query((MODBUS, PTR)), ASKER, 5353, RUNNING_AT, unicast=True)
    assert dest == (ASKER, 5353) and summary(parse(packet)[1]) == [(MODBUS, PTR, 4500, False)]


def test_legacy_unicast_echoes_id_and_question_with_ttls_capped_at_ten_and_no_cache_flush() -> None:
    [(packet, dest)] = ask(running(), query((MODBUS, PTR), id_=0x4D54), port=40000)
    assert dest == (ASKER, 40000)
    message, answers, _, additional = parse(packet)
    assert message.id == 0x4D54 and message.flags == 0x8400
    assert [(q.name, q.type) for q in message.questions] == [(MODBUS, PTR)]
    assert summary(answers) == [(MODBUS, PTR, 10, False)]
    assert summary(additional) == [
        (FULL, SRV, 10, False),
        (FULL, TXT_TYPE, 10, False),
        (f"{HOST}.local.", A, 10, False),
    ]


def test_known_answer_suppression_needs_the_same_record_with_at_least_half_our_ttl() -> None:
    responder = running()
    fresh = DNSPointer(MODBUS, PTR, IN, 2250, FULL)
    assert ask(responder, query((MODBUS, PTR), known=[fresh])) == []
    stale = DNSPointer(MODBUS, PTR, IN, 2249, FULL)
    _, answers, _ = only_reply(responder, query((MODBUS, PTR), known=[stale]))
    assert [a.alias for a in answers if isinstance(a, DNSPointer)] == [FULL]
    other = DNSPointer(MODBUS, PTR, IN, 4500, "Someone else._modbus._tcp.local.")
    _, answers, _ = only_reply(responder, query((MODBUS, PTR), known=[other]), now=RUNNING_AT + 1000)
    assert summary(answers) == [(MODBUS, PTR, 4500, False)]
    # the same for a unique record, with the name in other case
    known_a = DNSAddress(f"{HOST.upper()}.local.", A, IN, 120, bytes([10, 0, 0, 7]))
    assert ask(responder, query((f"{HOST}.local.", A), known=[known_a])) == []


def test_a_record_is_multicast_at_most_once_a_second_but_a_probe_after_250_ms() -> None:
    responder = running()
    assert len(ask(responder, query((MODBUS, PTR)), now=RUNNING_AT)) == 1
    assert ask(responder, query((MODBUS, PTR)), now=RUNNING_AT + 999) == []
    assert len(ask(responder, query((MODBUS, PTR)), now=RUNNING_AT + 1000)) == 1
    # a unicast answer is not limited
    assert len(ask(responder, query((MODBUS, PTR), qu=True), now=RUNNING_AT + 1001)) == 1
    # someone probing for our host name is answered 250 ms after our last multicast of the record
    assert len(ask(responder, query((f"{HOST}.local.", A)), now=RUNNING_AT)) == 1
    probe = DNSOutgoing(0)
    probe.add_question(DNSQuestion(f"{HOST}.local.", ANY, IN))
    probe.authorities.append(DNSAddress(f"{HOST}.local.", A, IN, 120, bytes([10, 0, 0, 99])))  # type: ignore[arg-type]
    [probe_packet] = probe.packets()
    assert ask(responder, probe_packet, now=RUNNING_AT + 249) == []
    _, answers, _ = only_reply(responder, probe_packet, now=RUNNING_AT + 250)
    assert summary(answers) == [(f"{HOST}.local.", A, 120, True)]


def test_nothing_is_answered_before_start_while_probing_or_after_stop() -> None:
    responder = tank()
    assert ask(responder, query((MODBUS, PTR))) == []
    responder.start(0)
    assert ask(responder, query((MODBUS, PTR)), now=10) == []
    responder.stop(20)
    assert ask(responder, query((MODBUS, PTR)), now=30) == []


# conflicts


def response(*records: DNSRecord) -> bytes:
    out = DNSOutgoing(0x8400)
    for record in records:
        out.add_answer_at_time(record, 0)
    [packet] = out.packets()
    return packet


def probing() -> Responder:
    responder = tank()
    responder.start(0)
    assert len(responder.poll(0)) == 1
    return responder


def rival_srv(name: str = FULL, port: int = 6053, ttl: int = 120) -> DNSService:
    return DNSService(name, SRV, IN | 0x8000, ttl, 0, 0, port, "other-host.local.")


def test_a_conflicting_answer_while_probing_renames_the_instance_and_probes_again() -> None:
    responder = probing()
    assert responder.handle(response(rival_srv()), "10.0.0.50", 5353, 100) == []
    assert responder.services[0].name() == "Tank 00AB (2)" and responder.conflicts == 1
    assert responder.services[0].full_name() == "Tank 00AB (2)._modbus._tcp.local."
    assert responder.state == PROBING and responder.next_due() == 100
    message, _, authority, _ = parse(responder.poll(100)[0][0])
    assert [q.name for q in message.questions] == [f"{HOST}.local.", f"Tank 00AB (2).{MODBUS}"]
    assert {r.name for r in authority} == {f"{HOST}.local.", f"Tank 00AB (2).{MODBUS}"}
    # a rival for the new name too: (3)
    responder.handle(response(rival_srv(f"Tank 00AB (2).{MODBUS}")), "10.0.0.50", 5353, 200)
    assert responder.services[0].name() == "Tank 00AB (3)" and responder.hostname() == f"{HOST}.local."
    for now in range(200, 3000, 50):
        responder.poll(now)
    assert responder.state == RUNNING
    _, answers, _ = only_reply(responder, query((MODBUS, PTR)), now=RUNNING_AT)
    assert [a.alias for a in answers if isinstance(a, DNSPointer)] == [f"Tank 00AB (3).{MODBUS}"]


def test_a_host_name_conflict_renames_the_host_and_the_srv_target_follows() -> None:
    responder = probing()
    rival = DNSAddress(f"{HOST}.local.", A, IN | 0x8000, 120, bytes([10, 0, 0, 50]))
    responder.handle(response(rival, rival_srv()), "10.0.0.50", 5353, 100)
    assert responder.hostname() == f"{HOST}-2.local." and responder.services[0].name() == "Tank 00AB (2)"
    for now in range(100, 3000, 50):
        responder.poll(now)
    _, answers, additional = only_reply(responder, query((f"Tank 00AB (2).{MODBUS}", SRV)), now=RUNNING_AT)
    assert isinstance(answers[0], DNSService) and answers[0].server == f"{HOST}-2.local."
    assert summary(additional) == [(f"{HOST}-2.local.", A, 120, True)]


@pytest.mark.parametrize("packet_and_port", [
    pytest.param((response(DNSService(FULL, SRV, IN | 0x8000, 120, 0, 0, 502, f"{HOST}.local.")), 5353), id="same"),
    pytest.param((response(rival_srv(ttl=0)), 5353), id="goodbye"),
    pytest.param((response(rival_srv()), 40000), id="not-from-5353"),
    pytest.param((response(DNSPointer(MODBUS, PTR, IN, 4500, "Other._modbus._tcp.local.")), 5353), id="other-name"),
    pytest.param((response(DNSText(FULL, 28, IN, 120, b"\xfe\x80" + bytes(14))), 5353), id="other-type"),
])  # fmt: skip
def test_answers_that_are_not_conflicts_change_nothing(packet_and_port: tuple[bytes, int]) -> None:
    packet, port = packet_and_port
    responder = probing()
    assert responder.handle(packet, "10.0.0.50", port, 100) == []
    assert responder.services[0].name() == INSTANCE and responder.conflicts == 0 and responder.malformed == 0


def test_a_long_name_is_cut_on_a_character_boundary_to_fit_the_suffix() -> None:
    name = "Ñ" * 31 + "x"  # 63 bytes of UTF-8
    service = Service(name, "_modbus._tcp", 502)
    service.rename()
    assert service.instance == ("Ñ" * 29).encode() + b" (2)" and len(service.instance) <= 63
    responder = Responder("h" * 63, ADDRESS, [], rand=lambda n: 0)
    responder.start(0)
    responder.poll(0)
    responder.handle(response(DNSAddress("h" * 63 + ".local.", A, IN, 120, b"\x0a\x00\x00\x32")), "10.0.0.50", 5353, 1)
    assert responder.hostname() == "h" * 61 + "-2.local."


def test_fifteen_conflicts_in_ten_seconds_slow_probing_to_one_attempt_in_five_seconds() -> None:
    responder = probing()
    for i in range(15):
        name = responder.services[0].full_name()
        responder.handle(response(rival_srv(name)), "10.0.0.50", 5353, 100 + i)
    assert responder.conflicts == 15 and responder.services[0].name() == "Tank 00AB (16)"
    assert responder.next_due() == 114 + 5000


def probe_from(*records: DNSRecord) -> bytes:
    out = DNSOutgoing(0)
    question = DNSQuestion(FULL, ANY, IN)
    question.unicast = True
    out.add_question(question)
    for record in records:
        out.authorities.append(record)  # type: ignore[arg-type]
    [packet] = out.packets()
    return packet


def test_simultaneous_probes_the_later_record_set_wins_and_the_loser_waits_a_second() -> None:
    def srv(port: int) -> DNSService:
        return DNSService(FULL, SRV, IN, 120, 0, 0, port, f"{HOST}.local.")

    txt = DNSText(FULL, TXT_TYPE, IN, 4500, TXT_WIRE)
    responder = probing()
    # our own probe, looped back: a tie with ourselves changes nothing
    assert responder.handle(probe_from(srv(502), txt), ADDRESS, 5353, 100) == [] and responder.next_due() == 250
    # sorted by class, type, rdata: TXT ties, then SRV port 501 < 502, so our set is later: we win and go on
    responder.handle(probe_from(txt, srv(501)), ASKER, 5353, 110)
    assert responder.next_due() == 250
    # port 503 > 502: we lose, wait a second and probe again from the first probe, under the same name
    responder.handle(probe_from(txt, srv(503)), ASKER, 5353, 120)
    assert responder.next_due() == 1120 and responder.services[0].name() == INSTANCE and responder.conflicts == 0
    probes = [now for now in range(120, 2000) if responder.poll(now) and responder.state == PROBING]
    assert probes == [1120, 1370, 1620]


def test_a_rival_announcing_our_unique_record_later_sends_us_back_to_probing() -> None:
    responder = running()
    responder.handle(response(DNSPointer(MODBUS, PTR, IN, 4500, "Other._modbus._tcp.local.")), "10.0.0.50", 5353, 1)
    assert responder.state == RUNNING
    # without the cache-flush bit too: a late unicast answer to one of our probes has none
    late = DNSService(FULL, SRV, IN, 120, 0, 0, 6053, "other-host.local.")
    responder.handle(response(late), "10.0.0.50", 5353, RUNNING_AT)
    assert responder.state == PROBING and responder.services[0].name() == INSTANCE  # renamed only if it answers


# changes


def test_a_new_address_is_announced_and_none_means_silence() -> None:
    current: dict[str, str | None] = {"ip": None}
    responder = tank(lambda: current["ip"])
    responder.start(0)
    assert responder.poll(0) == [] and responder.state == PROBING  # no address yet: wait
    current["ip"] = ADDRESS
    run_up(responder)
    current["ip"] = "10.0.0.8"
    [(packet, _)] = responder.poll(RUNNING_AT)
    _, answers, _, _ = parse(packet)
    assert [a.address for a in answers if isinstance(a, DNSAddress)] == [bytes([10, 0, 0, 8])]
    assert responder.state == ANNOUNCING
    responder.set_address("10.0.0.9")
    responder.poll(RUNNING_AT + 1000)
    responder.poll(RUNNING_AT + 2000)
    _, answers, _ = only_reply(responder, query((f"{HOST}.local.", A)), now=RUNNING_AT + 5000)
    assert isinstance(answers[0], DNSAddress) and answers[0].address == bytes([10, 0, 0, 9])


def test_a_txt_change_is_announced_when_asked() -> None:
    responder = running()
    responder.services[0].set_txt({"fw": "1.1"})
    responder.reannounce(RUNNING_AT)
    [(packet, _)] = responder.poll(RUNNING_AT)
    _, answers, _, _ = parse(packet)
    assert [a.text for a in answers if isinstance(a, DNSText)] == [b"\x06fw=1.1"]


def test_txt_follows_rfc_6763_section_6() -> None:
    assert encode_txt(None) == b"\x00" and encode_txt({}) == b"\x00"
    assert encode_txt([("flag", None), ("n", 7), ("raw", b"\x00\xff"), ("e", "")]) == (
        b"\x04flag\x03n=7\x06raw=\x00\xff\x02e="
    )
    for bad in ([("a=b", "1")], [("", "1")], [("caf\u00e9", "1")], [("tab\t", "1")], [("k", "v" * 254)],
                [("Key", "1"), ("key", "2")]):  # fmt: skip
        with pytest.raises(ValueError):
            encode_txt(bad)
    assert len(encode_txt([("k", "v" * 253)])) == 256  # 255 bytes is allowed


@pytest.mark.parametrize(("args", "message"), [
    (("x" * 64, "_modbus._tcp", 502), "instance name"),
    (("", "_modbus._tcp", 502), "instance name"),
    (("Tank", "_modbus._sctp", 502), "service type"),
    (("Tank", "modbus._tcp", 502), "service type"),
    (("Tank", "_a-very-long-service._tcp", 502), "service type"),
    (("Tank", "_modbus._tcp", 70000), "port"),
])  # fmt: skip
def test_bad_service_settings_are_refused(args: tuple[str, str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Service(*args)


def test_host_names_are_checked_and_local_suffix_optional() -> None:
    assert Responder("tank-1.local.", ADDRESS).hostname() == "tank-1.local."
    assert Service("T", "_modbus._tcp.local.", 1).full_name() == "T._modbus._tcp.local."
    for bad in ("tank_1", "tank.one", "t" * 64, "", "tänk"):
        with pytest.raises(ValueError):
            Responder(bad, ADDRESS)


# byte-exact vectors, derived by hand from RFC 1035 section 4 and RFC 6762


def tiny(services: list[Service] | None = None) -> Responder:
    responder = Responder("t", "192.168.1.5", services or [], rand=lambda n: 0)
    run_up(responder)
    return responder


def test_vector_a_query_and_its_multicast_answer() -> None:
    # query: ID 0, flags 0, QDCOUNT 1 | "t.local." = 01 't' 05 'local' 00 | QTYPE A 0001 | QCLASS IN 0001 (QM)
    asked = bytes.fromhex("0000 0000 0001 0000 0000 000001 74 05 6c6f63616c 000001 0001")
    # answer: ID 0 (section 18.1), flags 8400 = QR + AA, ANCOUNT 1, no question (section 6);
    # the name written out (nothing earlier to point to), TYPE A, CLASS 8001 = cache-flush + IN (section 10.2),
    # TTL 120 = 00000078 (host record, section 10), RDLENGTH 4, 192.168.1.5 = c0a80105
    expected = bytes.fromhex("0000 8400 0000 0001 0000 000001 74 05 6c6f63616c 000001 8001 00000078 0004 c0a80105")
    assert tiny().handle(asked, ASKER, 5353, RUNNING_AT) == [(expected, ("224.0.0.251", 5353))]


def test_vector_legacy_unicast_answer() -> None:
    # a stub resolver's query: ID beef, flags 0100 (RD), one question, from port 12345 (not 5353)
    asked = bytes.fromhex("beef 0100 0001 0000 0000 000001 74 05 6c6f63616c 000001 0001")
    # section 6.7: ID beef echoed, flags 8400, QDCOUNT 1 with the question repeated at offset 12, then the
    # answer's name as a pointer to it (c00c), CLASS 0001 without cache-flush (section 10.2), TTL 10 = 0000000a
    expected = bytes.fromhex(
        "beef 8400 0001 0001 0000 000001 74 05 6c6f63616c 00 0001 0001c00c 0001 0001 0000000a 0004 c0a80105"
    )
    assert tiny().handle(asked, ASKER, 12345, RUNNING_AT) == [(expected, (ASKER, 12345))]


def test_vector_ptr_answer_with_compressed_names_and_additional_records() -> None:
    asked = bytes.fromhex("0000 0000 0001 0000 0000 000005 5f68747470 04 5f746370 05 6c6f63616c 00000c 0001")
    expected = bytes.fromhex(
        "0000 8400 0000 0001 0000 0003"  # ANCOUNT 1, ARCOUNT 3
        # offset 12: "_http._tcp.local." (18 bytes), PTR, IN (shared: no cache-flush), TTL 4500 = 1194, RDLENGTH 4,
        # at 40: 01 'x' then a pointer to 12 (c00c)
        "05 5f68747470 04 5f746370 05 6c6f63616c 00"
        "000c 0001 00001194 0004"
        "01 78 c00c"
        # offset 44: SRV named by a pointer to 40 (c028), cache-flush, TTL 120, RDLENGTH 15: priority 0, weight 0,
        # port 80 = 0050, target "t.local." written out (RFC 2782: no compression in SRV), "t" at offset 62
        "c028 0021 8001 00000078 000f"
        "0000 0000 0050"
        "01 74 05 6c6f63616c 00"
        # offset 71: TXT, pointer to 40, cache-flush, TTL 4500, RDLENGTH 1: one empty string (RFC 6763 section 6.1)
        "c028 0010 8001 00001194 0001 00"
        # offset 84: A of "t.local.", a pointer to the SRV target at 62 (c03e), TTL 120, 192.168.1.5
        "c03e 0001 8001 00000078 0004 c0a80105"
    )
    responder = tiny([Service("x", "_http._tcp", 80)])
    assert responder.handle(asked, ASKER, 5353, RUNNING_AT) == [(expected, ("224.0.0.251", 5353))]
    assert len(expected) == 100


# hostile input


def test_every_truncation_of_a_query_is_dropped_silently() -> None:
    responder = running()
    whole = query((MODBUS, PTR), (FULL, SRV), known=[DNSPointer(MODBUS, PTR, IN, 100, FULL)])
    for size in range(len(whole)):
        assert responder.handle(whole[:size], ASKER, 5353, RUNNING_AT) == []
    assert responder.malformed == len(whole) and responder.errors == 0
    assert len(responder.handle(whole, ASKER, 5353, RUNNING_AT)) == 1


HEADER_1Q = "0000 0000 0001 0000 0000 0000"
HOSTILE = {
    "pointer to itself": HEADER_1Q + "c00c 0001 0001",
    "pointer forward": HEADER_1Q + "c012 0001 0001 01 74 00",
    "two pointers in a loop": HEADER_1Q + "01 74 c00e 0001 0001",
    "pointer past the end": HEADER_1Q + "c0ff 0001 0001",
    "label longer than 63 (type bits 01)": HEADER_1Q + "40" + "61" * 64 + "00 0001 0001",
    "label type 10": HEADER_1Q + "80 00 0001 0001",
    "name longer than 255": HEADER_1Q + ("3f" + "61" * 63) * 4 + "00 0001 0001",
    "QDCOUNT larger than the packet": "0000 0000 ffff 0000 0000 0000 01 74 00 0001 0001",
    "ANCOUNT larger than the packet": "0000 0000 0001 0100 0000 0000 01 74 00 0001 0001",
    "rdata past the end": HEADER_1Q.replace("0001 0000", "0001 0001", 1) + "01 74 00 0001 0001 00 0001 0001 00000078 0040 c0a8",
    "SRV rdata shorter than 7": "0000 0000 0000 0001 0000 0000 01 74 00 0021 0001 00000078 0002 0000",
    "PTR name overrunning its rdata": "0000 0000 0000 0001 0000 0000 01 74 00 000c 0001 00000078 0001 01 74 00",
    "only a header": "0000 0000 0001",
    "empty": "",
}  # fmt: skip


@pytest.mark.parametrize("packet", list(HOSTILE.values()), ids=list(HOSTILE))
def test_malformed_packets_are_dropped_and_counted(packet: str) -> None:
    responder = running()
    assert responder.handle(bytes.fromhex(packet), ASKER, 5353, RUNNING_AT) == []
    assert responder.malformed == 1 and responder.errors == 0


def test_a_pointer_chain_that_costs_too_much_work_is_dropped() -> None:
    # 1400 questions, each naming the previous one by a pointer: every hop is legal (backwards), but the
    # chains add up to ~10^6 steps; the work bound stops it early
    body = bytearray(bytes.fromhex("01 74 00 0001 0001"))
    starts = [12]
    for _ in range(1399):
        at = 12 + len(body)
        body += bytes([0xC0 | (starts[-1] >> 8), starts[-1] & 0xFF]) + bytes.fromhex("0001 0001")
        starts.append(at)
    packet = bytes.fromhex("0000 0000") + (1400).to_bytes(2, "big") + bytes(6) + bytes(body)
    assert len(packet) < 9000
    responder = running()
    assert responder.handle(packet, ASKER, 5353, RUNNING_AT) == []
    assert responder.malformed == 1 and responder.errors == 0


@pytest.mark.parametrize("flags", [0x0800, 0x0001, 0x7800])
def test_other_opcodes_and_rcodes_are_ignored(flags: int) -> None:
    packet = bytearray(query((MODBUS, PTR)))
    packet[2:4] = flags.to_bytes(2, "big")
    assert ask(running(), bytes(packet)) == []


def our_record_keys() -> set[tuple[object, ...]]:
    responder = tank()
    return {key(r) for packet in run_up(responder)[3:] for r in parse(packet)[1]}


def key(record: DNSRecord) -> tuple[object, ...]:
    """What a record says, TTL and flags aside."""
    payload: object = None
    if isinstance(record, DNSAddress):
        payload = record.address
    elif isinstance(record, DNSPointer):
        payload = record.alias.lower()
    elif isinstance(record, DNSService):
        payload = (record.port, record.server.lower())
    elif isinstance(record, DNSText):
        payload = record.text
    return (record.name.lower(), record.type, payload)


def mutate(rng: random.Random, packet: bytes) -> bytes:
    data = bytearray(packet)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        at = rng.randrange(len(data)) if data else 0
        if choice == 0 and data:
            data[at] ^= 1 << rng.randrange(8)
        elif choice == 1 and data:
            data[at] = rng.randrange(256)
        elif choice == 2:
            del data[rng.randrange(len(data) + 1) :]
        elif choice == 3:
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        elif choice == 4 and len(data) > 13:
            data[at : at + 2] = bytes([0xC0 | rng.randrange(4), rng.randrange(256)])  # a pointer anywhere
        elif choice == 5 and len(data) >= 12:
            data[4 + 2 * rng.randrange(4)] = rng.randrange(4)  # a count off by a few hundred
    return bytes(data)


def test_fuzz_random_and_mutated_packets_never_raise_and_only_ever_answer_our_records() -> None:
    rng = random.Random(6762)
    ours = our_record_keys()
    probe, announcement = (p for i, p in enumerate(run_up(tank())) if i in (0, 3))
    corpus = [
        query((MODBUS, PTR)), query((FULL, ANY), (f"{HOST}.local.", A), (SERVICES, PTR)),
        query((MODBUS, PTR), qu=True, known=[DNSPointer(MODBUS, PTR, IN, 100, FULL)]),
        query((FULL, SRV), id_=77), probe, announcement, response(rival_srv()),
        response(DNSText("Other._modbus._tcp.local.", TXT_TYPE, IN | 0x8000, 4500, b"\x03a=1")),
    ]  # fmt: skip
    replies = 0
    for i in range(4000):
        if i % 4 == 0:
            packet = bytes(rng.randrange(4) for _ in range(4)) + rng.randbytes(rng.randint(0, 300))
        else:
            packet = mutate(rng, rng.choice(corpus))
        responder = running()
        port = rng.choice([5353, 5353, 40000])
        out = responder.handle(packet, ASKER, port, RUNNING_AT)
        assert responder.errors == 0, packet.hex()
        for reply, dest in out:
            replies += 1
            assert dest in (MDNS_GROUP, (ASKER, 5353), (ASKER, port))
            message, answers, authority, additional = parse(reply)
            assert message.is_response() and answers and authority == []
            assert {key(r) for r in answers + additional} <= ours, packet.hex()
            assert all(r.ttl in (10, 120, 4500) for r in answers + additional)
    assert replies > 100  # enough mutants stayed valid queries to exercise the answering path
