//! The 6-digit-code join: every message decoder, and both state machines fed hostile bytes.
//!
//! Input: the whole input goes through `JoinMessage::decode`, `Welcome::decode` and
//! `JoinRequest::decode` (as `tests/crashers.rs` replays a file). Then byte 0 picks a
//! scenario and the rest is its input:
//!
//! - 0: decoders only, on the rest.
//! - 1: a host receives the rest as a joiner's Hello.
//! - 2: a joiner that sent a real Hello receives the rest as the Challenge.
//! - 3: a host that answered a real Hello receives the rest as the Request, some time later.
//! - 4: a joiner that got a real Challenge receives the rest as the Welcome.
//! - 5: a whole exchange with a name, code, timing and Welcome all chosen by the fuzzer.
//!
//! Checked: nothing panics; peer bytes never cause an `Internal` error; decoders are strict
//! (whatever they accept re-encodes to the same bytes); the gate always settles an exchange
//! that failed and counts it; and an honest exchange ends with the joiner holding exactly
//! the Welcome the host sent.

#![no_main]

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use commonground_protocol::{
    refusal_for, CodeGate, DevicePublicKey, HostJoin, Invite, JoinCode, JoinMessage, JoinRequest,
    JoinerState, JoinerStep, ProtocolError, Welcome, JOIN_EXCHANGE_TIMEOUT, MAX_JOIN_MESSAGE_LEN,
    MAX_NAME_LEN,
};
use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use uuid::Uuid;

const WORKSHOP: Uuid = Uuid::from_bytes([7; 16]);

fn not_internal<T>(result: &Result<T, ProtocolError>) {
    if let Err(ProtocolError::Internal(why)) = result {
        panic!("peer bytes caused an internal error: {why}");
    }
}

fn decoders(bytes: &[u8]) {
    let message = JoinMessage::decode(bytes);
    not_internal(&message);
    if let Ok(message) = message {
        assert!(bytes.len() <= MAX_JOIN_MESSAGE_LEN);
        assert_eq!(message.encode(), bytes, "a non-canonical join message was accepted");
    }
    let welcome = Welcome::decode(bytes);
    not_internal(&welcome);
    if let Ok(welcome) = welcome {
        assert_eq!(welcome.encode().expect("an accepted welcome re-encodes"), bytes);
        let distinct: BTreeSet<_> = welcome.roster.iter().collect();
        assert_eq!(distinct.len(), welcome.roster.len(), "a roster with repeats was accepted");
    }
    let request = JoinRequest::decode(bytes);
    not_internal(&request);
    if let Ok(request) = request {
        assert!(request.name.len() <= MAX_NAME_LEN);
        assert_eq!(request.encode().expect("an accepted request re-encodes"), bytes);
    }
}

fn request(name: &[u8]) -> JoinRequest {
    JoinRequest { device: DevicePublicKey::from_bytes([0x11; 32]), name: name.to_vec() }
}

/// A gate and a joiner that has sent its Hello with the right code.
fn begin(rng: &mut ChaCha20Rng, now: Instant) -> (CodeGate, JoinerState, Vec<u8>) {
    let gate = CodeGate::issue(WORKSHOP, now, rng);
    let (joiner, hello) = JoinerState::start(gate.code(), request(b"Sam"), None, rng).expect("a valid start");
    (gate, joiner, hello)
}

/// After a host's exchange failed, its attempt is settled and counted.
fn settled_as_failure(gate: &CodeGate) {
    assert_eq!(gate.in_progress(), 0, "a failed exchange still holds a slot");
    assert_eq!(gate.failures(), 1, "a failed exchange wasn't counted");
}

fn scenario(which: u8, body: &[u8], rng: &mut ChaCha20Rng, now: Instant) {
    match which {
        0 => decoders(body),
        1 => {
            let mut gate = CodeGate::issue(WORKSHOP, now, rng);
            let started = HostJoin::start(&mut gate, now, body, rng);
            not_internal(&started);
            match started {
                Ok((mut host, _challenge)) => {
                    assert_eq!(gate.in_progress(), 1);
                    // The same bytes again, as the Request: a Hello is out of order.
                    assert!(host.receive(&mut gate, now, body).is_err());
                    settled_as_failure(&gate);
                }
                // Garbage makes no guess, so it must not use up an attempt.
                Err(_) if JoinMessage::decode(body).is_err() => {
                    assert_eq!((gate.in_progress(), gate.failures()), (0, 0));
                }
                Err(_) => assert_eq!(gate.in_progress(), 0),
            }
        }
        2 => {
            let (_gate, mut joiner, _hello) = begin(rng, now);
            let step = joiner.receive(body);
            not_internal(&step);
            // Whatever happened, the same bytes again are refused.
            assert!(joiner.receive(body).is_err());
        }
        3 => {
            let (mut gate, _joiner, hello) = begin(rng, now);
            let (mut host, _challenge) = HostJoin::start(&mut gate, now, &hello, rng).expect("a real Hello");
            let (delay, message) = match body.split_first_chunk::<2>() {
                Some((d, m)) => (Duration::from_millis(u64::from(u16::from_be_bytes(*d)) * 4), m),
                None => (Duration::ZERO, body),
            };
            let received = host.receive(&mut gate, now + delay, message);
            not_internal(&received);
            // The fuzzer can't forge the joiner's MAC.
            assert!(received.is_err(), "a forged Request was accepted");
            settled_as_failure(&gate);
            if delay >= JOIN_EXCHANGE_TIMEOUT {
                assert_eq!(received.unwrap_err(), ProtocolError::JoinTimedOut);
            }
            assert!(host.receive(&mut gate, now, message).is_err());
            assert!(host.welcome(&welcome_for(&gate, &[DevicePublicKey::from_bytes([0x11; 32])])).is_err());
        }
        4 => {
            let (mut gate, mut joiner, hello) = begin(rng, now);
            let (mut host, challenge) = HostJoin::start(&mut gate, now, &hello, rng).expect("a real Hello");
            let Ok(JoinerStep::Send(request_msg)) = joiner.receive(&challenge) else {
                panic!("a real Challenge was refused");
            };
            let got = joiner.receive(body);
            not_internal(&got);
            // The fuzzer can't forge the host's MAC.
            assert!(got.is_err(), "a forged Welcome was accepted");
            assert!(joiner.receive(body).is_err());
            // The host's side is unaffected by what the joiner was sent.
            let request = host.receive(&mut gate, now, &request_msg).expect("a real Request");
            assert_eq!(request.name, b"Sam");
            assert_eq!((gate.in_progress(), gate.failures()), (0, 0));
        }
        _ => {
            let _ = whole_exchange(&mut Unstructured::new(body), rng, now);
        }
    }
}

fn welcome_for(gate: &CodeGate, roster: &[DevicePublicKey]) -> Welcome {
    Welcome {
        invite: Invite {
            workshop_id: gate.workshop_id(),
            secret: [9; 32],
            epoch: 0,
            facilitator: roster[0],
            addresses: vec![],
        },
        roster: roster.to_vec(),
    }
}

fn whole_exchange(u: &mut Unstructured<'_>, rng: &mut ChaCha20Rng, now: Instant) -> ArbResult<()> {
    let mut gate = CodeGate::issue(WORKSHOP, now, rng);
    let wrong_code = u.ratio(1, 4)?;
    let code = if wrong_code {
        let right = gate.code().to_string().replace(' ', "");
        let other = (right.parse::<u32>().expect("six digits") + u.int_in_range(1..=999_999)?) % 1_000_000;
        JoinCode::parse(&format!("{other:06}")).expect("six digits")
    } else {
        gate.code().clone()
    };
    let name_len = u.int_in_range(0..=MAX_NAME_LEN)?;
    let name = u.bytes(name_len)?.to_vec();
    let joiner_key = DevicePublicKey::from_bytes(u.arbitrary()?);
    let expected = match u.int_in_range(0..=3u8)? {
        0 => Some(WORKSHOP),
        1 => Some(Uuid::from_bytes(u.arbitrary()?)),
        _ => None,
    };
    let delay = Duration::from_millis(u.int_in_range(0..=12_000)?);

    let mut invite = Invite {
        workshop_id: WORKSHOP,
        secret: u.arbitrary()?,
        epoch: u.arbitrary()?,
        facilitator: DevicePublicKey::from_bytes(u.arbitrary()?),
        addresses: vec![],
    };
    for _ in 0..u.int_in_range(0..=8)? {
        let port = u.int_in_range(1..=u16::MAX)?;
        invite.addresses.push(if u.arbitrary()? {
            SocketAddr::new(Ipv4Addr::from(u.arbitrary::<[u8; 4]>()?).into(), port)
        } else {
            SocketAddr::new(Ipv6Addr::from(u.arbitrary::<[u8; 16]>()?).into(), port)
        });
    }
    let mut roster = BTreeSet::from([joiner_key, invite.facilitator]);
    for _ in 0..u.int_in_range(0..=20)? {
        roster.insert(DevicePublicKey::from_bytes(u.arbitrary()?));
    }
    let welcome = Welcome { invite, roster: roster.into_iter().collect() };

    let request = JoinRequest { device: joiner_key, name: name.clone() };
    let (mut joiner, hello) = JoinerState::start(&code, request, expected, rng).expect("a valid start");
    let (mut host, challenge) = HostJoin::start(&mut gate, now, &hello, rng).expect("a real Hello");
    let step = joiner.receive(&challenge);
    if expected.is_some_and(|id| id != WORKSHOP) {
        assert_eq!(step.unwrap_err(), ProtocolError::WrongWorkshop);
        host.abandon(&mut gate);
        settled_as_failure(&gate);
        return Ok(());
    }
    let Ok(JoinerStep::Send(request_msg)) = step else { panic!("a real Challenge was refused: {step:?}") };
    let received = host.receive(&mut gate, now + delay, &request_msg);
    if delay >= JOIN_EXCHANGE_TIMEOUT {
        assert_eq!(received.unwrap_err(), ProtocolError::JoinTimedOut);
        settled_as_failure(&gate);
        return Ok(());
    }
    if wrong_code {
        let error = received.unwrap_err();
        assert_eq!(error, ProtocolError::WrongCode);
        settled_as_failure(&gate);
        let refusal = refusal_for(&error).expect("a wrong code is explained");
        assert_eq!(joiner.receive(&refusal).unwrap_err(), ProtocolError::WrongCode);
        return Ok(());
    }
    let got = received.expect("the right code was refused");
    assert_eq!((got.device, got.name), (joiner_key, name));
    assert_eq!((gate.in_progress(), gate.failures()), (0, 0));
    let message = host.welcome(&welcome).expect("a valid welcome is sealed");
    match joiner.receive(&message) {
        Ok(JoinerStep::Joined(joined)) => assert_eq!(joined, welcome),
        other => panic!("an honest welcome was refused: {other:?}"),
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    decoders(data);
    let Some((&which, body)) = data.split_first() else { return };
    // Seeded per input, so every run of an input is the same run.
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(which));
    scenario(which % 6, body, &mut rng, Instant::now());
});
