//! The whole path a runtime will drive, in memory: join with the 6-digit code, take the
//! welcome into a membership, connect over Noise with the derived PSK, check keys against
//! the roster, and carry messages over a byte stream cut into awkward chunks. A third laptop
//! joins by invite link instead.

use std::time::{Duration, Instant};

use commonground_protocol::{
    CodeGate, DeviceKeypair, FrameDecoder, Handshake, HostJoin, Invite, JoinCode, JoinRequest, JoinerState,
    JoinerStep, Membership, Session, Welcome,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use uuid::Uuid;

/// A one-way byte pipe that delivers in 7-byte pieces, as TCP might.
struct Pipe {
    decoder: FrameDecoder,
}

impl Pipe {
    fn new() -> Self {
        Self { decoder: FrameDecoder::new() }
    }

    fn frames(&mut self, wire: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for piece in wire.chunks(7) {
            let mut input = piece;
            while let Some(frame) = self.decoder.decode(&mut input).unwrap() {
                out.push(frame);
            }
        }
        out
    }

    fn one(&mut self, wire: &[u8]) -> Vec<u8> {
        let mut frames = self.frames(wire);
        assert_eq!(frames.len(), 1);
        frames.remove(0)
    }
}

/// Dials `host` from `guest`; the guest checks the host against its membership before
/// revealing its own key. The host's check is left to the caller.
fn connect(
    guest: &DeviceKeypair,
    guest_view: &Membership,
    host: &DeviceKeypair,
    host_view: &Membership,
    rng: &mut ChaCha20Rng,
) -> (Session, Session) {
    let (mut to_host, mut to_guest) = (Pipe::new(), Pipe::new());
    let (mut init, w1) = Handshake::initiate(guest, &guest_view.psk(), rng).unwrap();
    let mut resp = Handshake::respond(host, &host_view.psk(), rng).unwrap();
    let w2 = resp.receive(&to_host.one(&w1)).unwrap().unwrap();
    let w3 = init.receive(&to_guest.one(&w2)).unwrap().unwrap();
    // The guest checks the host before revealing its own key in message 3.
    assert!(guest_view.is_allowed(&init.remote_public_key().unwrap(), guest_view.epoch()));
    let w4 = resp.receive(&to_host.one(&w3)).unwrap().unwrap();
    assert_eq!(init.receive(&to_guest.one(&w4)).unwrap(), None);
    (init.into_session().unwrap(), resp.into_session().unwrap())
}

fn send(from: &mut Session, to: &mut Session, message: &[u8]) -> Vec<u8> {
    let wire = from.seal(message).unwrap();
    let mut pipe = Pipe::new();
    let mut got = None;
    for frame in pipe.frames(&wire) {
        assert!(got.is_none(), "one message per seal");
        got = to.open(&frame).unwrap();
    }
    got.expect("the message arrived")
}

#[test]
fn join_by_code_then_by_link_then_talk() {
    let mut rng = ChaCha20Rng::seed_from_u64(2024);
    let t0 = Instant::now();
    let facilitator = DeviceKeypair::generate(&mut rng);
    let workshop_id = Uuid::from_bytes([7; 16]);
    let mut host_view = Membership::new([11; 32], 0, [facilitator.public_key()]);
    let addresses = vec!["192.168.4.1:47800".parse().unwrap()];
    let invite_now = |m: &Membership| Invite {
        workshop_id,
        secret: *m.secret(),
        epoch: m.epoch(),
        facilitator: facilitator.public_key(),
        addresses: addresses.clone(),
    };

    // The facilitator shows a code; Ada types what she reads on screen.
    let mut gate = CodeGate::issue(workshop_id, t0, &mut rng);
    let typed = JoinCode::parse(&gate.code().to_string()).unwrap();
    let ada = DeviceKeypair::generate(&mut rng);
    let request = JoinRequest { device: ada.public_key(), name: "Ada".into() };
    let (mut joiner, hello) = JoinerState::start(&typed, request, None, &mut rng).unwrap();
    let now = t0 + Duration::from_secs(30);
    let (mut host, challenge) = HostJoin::start(&mut gate, now, &hello, &mut rng).unwrap();
    let JoinerStep::Send(request_msg) = joiner.receive(&challenge).unwrap() else {
        panic!("expected a request")
    };
    let got = host.receive(&mut gate, now, &request_msg).unwrap();
    assert_eq!(got.name, b"Ada");
    host_view.admit(got.device).unwrap();
    let welcome = Welcome { invite: invite_now(&host_view), roster: host_view.roster().copied().collect() };
    let reply = host.welcome(&welcome).unwrap();
    let JoinerStep::Joined(welcome) = joiner.receive(&reply).unwrap() else { panic!("expected to join") };
    let ada_view =
        Membership::new(welcome.invite.secret, welcome.invite.epoch, welcome.roster.iter().copied());

    // Ada connects and they talk, in both directions, small and large.
    let (mut ada_session, mut host_session) = connect(&ada, &ada_view, &facilitator, &host_view, &mut rng);
    assert!(host_view.is_allowed(&host_session.remote_public_key(), host_view.epoch()));
    assert_eq!(send(&mut ada_session, &mut host_session, b"sync please"), b"sync please");
    let big = vec![0x5c; 300_000];
    assert_eq!(send(&mut host_session, &mut ada_session, &big), big);

    // Ben joins by the invite link instead (scanned from the QR code). He knows only the
    // facilitator's key; the facilitator's laptop has never seen his. Proving the current
    // PSK is what lets a runtime admit an unknown device that isn't a removed one.
    let ben = DeviceKeypair::generate(&mut rng);
    let link = invite_now(&host_view).to_link().unwrap();
    let invite = Invite::from_link(&link).unwrap();
    let ben_view = Membership::new(invite.secret, invite.epoch, [invite.facilitator]);
    let (mut ben_session, mut host_for_ben) = connect(&ben, &ben_view, &facilitator, &host_view, &mut rng);
    let newcomer = host_for_ben.remote_public_key();
    assert_eq!(newcomer, ben.public_key());
    assert!(!host_view.is_allowed(&newcomer, host_view.epoch()));
    host_view.admit(newcomer).unwrap();
    assert!(host_view.is_allowed(&newcomer, host_view.epoch()));
    assert_eq!(send(&mut ben_session, &mut host_for_ben, b"hello"), b"hello");
}
