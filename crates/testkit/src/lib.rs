//! A deterministic, in-memory simulator of several laptops syncing one workshop.
//!
//! [`Network`] holds N replicas of one workshop document and a directed link between every
//! pair of them. Replicas talk Automerge's sync protocol, one [`sync::State`] per directed
//! pair, exactly as the real runtime does over its encrypted TCP channel; messages travel as
//! encoded bytes, so the codec is exercised on every hop. Links can be cut, restored and
//! partitioned, and every choice the simulator makes (which message arrives next, the actor
//! ids of the replicas) comes from one seeded rng, so a failing run replays exactly from
//! its seed.
//!
//! ```
//! use commonground_testkit::Network;
//! use commonground_workshop::{random_actor, Colour, NewWorkshop, Timestamp, Workshop};
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let new = NewWorkshop {
//!     title: "Living Well design team".into(),
//!     purpose: "Design the new service together.".into(),
//!     facilitator_name: "Sam".into(),
//!     facilitator_colour: Colour::Sky,
//!     ground_rules: None,
//! };
//! let (first, _facilitator) = Workshop::create(random_actor(&mut rng), Timestamp(0), &mut rng, new)?;
//! let mut net = Network::new(7, first, 3);
//! let (peer, rng) = net.peer_and_rng(2);
//! peer.join(Timestamp(1_000), rng, "Ngozi", Colour::Leaf, None)?;
//! net.run_until_quiescent();
//! assert!(net.converged());
//! assert_eq!(net.peer(0).participants().len(), 2);
//! # Ok::<(), commonground_workshop::WorkshopError>(())
//! ```

#![deny(missing_docs)]

use std::collections::{BTreeMap, VecDeque};

use commonground_workshop::{random_actor, sync, Workshop};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How many steps [`Network::run_until_quiescent`] takes before it decides the replicas are
/// stuck. Settling a few hundred changes across five replicas takes a few hundred steps, so
/// reaching this many means the sync protocol is going round in circles: a livelock, which
/// is a bug to report, not a slow test to wait out.
pub const STEP_LIMIT: usize = 100_000;

/// One direction of a connection between two replicas, `from → to`.
#[derive(Debug)]
struct Link {
    /// Whether the connection is up. Both directions of a pair are always up or down together,
    /// as a TCP connection is.
    up: bool,
    /// Encoded sync messages sent by `from` and not yet received by `to`, oldest first: the
    /// transport is reliable and in order while it is up (as TCP is).
    in_flight: VecDeque<Vec<u8>>,
    /// What `from` knows of `to`: used when `from` generates a message for `to` and when
    /// `from` receives a message from `to`.
    state: sync::State,
}

impl Link {
    fn new() -> Self {
        Link { up: true, in_flight: VecDeque::new(), state: sync::State::new() }
    }

    /// Drops the connection: messages on the wire are lost, and the sync state keeps only
    /// what it would have persisted. automerge-repo does the same on reconnect, because the
    /// in-memory state (what was sent, what is in flight) describes a conversation that no
    /// longer exists; keeping it would leave the sender waiting for replies to lost messages.
    fn drop_connection(&mut self) {
        self.up = false;
        self.in_flight.clear();
        self.state = sync::State::decode(&self.state.encode())
            .expect("a sync state encoded by automerge decodes again");
    }
}

/// What a stretch of simulation cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Steps taken that did something (delivered a message, or generated at least one).
    pub steps: usize,
    /// Sync messages delivered.
    pub messages: usize,
    /// Bytes of sync messages delivered.
    pub bytes: usize,
}

/// N replicas of one workshop, joined by directed links that carry Automerge sync messages.
///
/// All links start up. Nothing moves until [`Network::step`] (or
/// [`Network::run_until_quiescent`]) is called, so a test can make concurrent changes on
/// several replicas first and then let them meet.
#[derive(Debug)]
pub struct Network {
    /// The one source of randomness: actor ids, delivery order, and whatever tests draw.
    rng: ChaCha8Rng,
    /// The replicas; replica 0 is the one the workshop was created on.
    peers: Vec<Workshop>,
    /// Every directed link `(from, to)` with `from != to`. A `BTreeMap` so that iteration
    /// order, and with it every random choice, is the same on every run.
    links: BTreeMap<(usize, usize), Link>,
    /// Totals since the network was made.
    totals: Stats,
}

impl Network {
    /// Makes a network of `n` replicas. Replica 0 is `first`; replicas 1..n are forks of it
    /// (`Workshop::fork` with a random actor from the seeded rng), as a laptop that joins
    /// starts from the creator's document. Replicas must never create the workshop
    /// independently: two separately created documents would each have their own root
    /// collections, and merging them would hide one side's contents.
    ///
    /// # Panics
    ///
    /// If `n` is 0: a network needs the replica the workshop was created on.
    pub fn new(seed: u64, first: Workshop, n: usize) -> Self {
        assert!(n > 0, "a network needs at least one replica (the workshop's creator)");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut actors = vec![first.actor().clone()];
        while actors.len() < n {
            // Two replicas writing as one actor would both number their changes 1, 2, 3…
            // and every sync between them would fail on the duplicates. A 128-bit draw
            // repeating is only possible if the caller seeded this rng and their own alike,
            // so draw again rather than build a network that cannot work.
            let actor = random_actor(&mut rng);
            if !actors.contains(&actor) {
                actors.push(actor);
            }
        }
        let mut peers = Vec::with_capacity(n);
        for actor in actors.into_iter().skip(1) {
            peers.push(first.fork(actor));
        }
        peers.insert(0, first);
        let mut links = BTreeMap::new();
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    links.insert((a, b), Link::new());
                }
            }
        }
        Network { rng, peers, links, totals: Stats::default() }
    }

    /// How many replicas there are.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether there are no replicas (never true: [`Network::new`] needs one).
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Replica `i`.
    ///
    /// # Panics
    ///
    /// If there is no replica `i`.
    pub fn peer(&self, i: usize) -> &Workshop {
        &self.peers[i]
    }

    /// Replica `i`, to make changes on.
    ///
    /// # Panics
    ///
    /// If there is no replica `i`.
    pub fn peer_mut(&mut self, i: usize) -> &mut Workshop {
        &mut self.peers[i]
    }

    /// The network's seeded rng, for tests to draw ids and choices from, so that a whole run
    /// follows from one seed.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Replica `i` and the seeded rng together, since most operations need both and the
    /// borrow checker will not hand out [`Network::peer_mut`] and [`Network::rng`] at once.
    ///
    /// # Panics
    ///
    /// If there is no replica `i`.
    pub fn peer_and_rng(&mut self, i: usize) -> (&mut Workshop, &mut ChaCha8Rng) {
        (&mut self.peers[i], &mut self.rng)
    }

    /// The totals since the network was made.
    pub fn stats(&self) -> Stats {
        self.totals
    }

    /// How many messages are on the wire now, across all links.
    pub fn in_flight(&self) -> usize {
        self.links.values().map(|l| l.in_flight.len()).sum()
    }

    /// Whether the connection between `a` and `b` is up.
    ///
    /// # Panics
    ///
    /// If `a == b` or either is not a replica.
    pub fn is_connected(&self, a: usize, b: usize) -> bool {
        self.link(a, b).up
    }

    /// Cuts the connection between `a` and `b`, both ways. Messages on the wire are lost and
    /// both sides keep only their persisted sync state, as after a real disconnection.
    /// Cutting a connection that is already down does nothing.
    ///
    /// # Panics
    ///
    /// If `a == b` or either is not a replica.
    pub fn disconnect(&mut self, a: usize, b: usize) {
        for pair in [(a, b), (b, a)] {
            let link = self.link_mut(pair);
            if link.up {
                link.drop_connection();
            }
        }
    }

    /// Restores the connection between `a` and `b`, both ways. The replicas start a fresh
    /// sync conversation at the next generation step.
    ///
    /// # Panics
    ///
    /// If `a == b` or either is not a replica.
    pub fn connect(&mut self, a: usize, b: usize) {
        self.link_mut((a, b)).up = true;
        self.link_mut((b, a)).up = true;
    }

    /// Splits the network: only links between replicas in the same group stay (or come) up.
    /// Replicas in no group are cut off from everyone.
    ///
    /// # Panics
    ///
    /// If a replica is named twice or is not a replica.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        let mut group_of = BTreeMap::new();
        for (g, members) in groups.iter().enumerate() {
            for &p in *members {
                assert!(p < self.len(), "partition names replica {p}, but there are {}", self.len());
                let before = group_of.insert(p, g);
                assert!(before.is_none(), "partition puts replica {p} in two groups");
            }
        }
        let pairs: Vec<(usize, usize)> = self.links.keys().copied().filter(|(a, b)| a < b).collect();
        for (a, b) in pairs {
            match (group_of.get(&a), group_of.get(&b)) {
                (Some(x), Some(y)) if x == y => self.connect(a, b),
                _ => self.disconnect(a, b),
            }
        }
    }

    /// Brings every link up.
    pub fn heal_all(&mut self) {
        for link in self.links.values_mut() {
            link.up = true;
        }
    }

    /// One step: delivers one message on the wire, chosen at random (seeded) among the up
    /// links that carry any, oldest first on that link; or, when nothing is on the wire, lets
    /// every replica generate a sync message for each of its up links. Returns false when
    /// nothing happened: nothing on the wire and nothing to say.
    ///
    /// # Panics
    ///
    /// If a replica refuses a sync message from another: replicas of one workshop must always
    /// be able to sync, so that is a bug.
    pub fn step(&mut self) -> bool {
        let ready: Vec<(usize, usize)> =
            self.links.iter().filter(|(_, l)| l.up && !l.in_flight.is_empty()).map(|(k, _)| *k).collect();
        if !ready.is_empty() {
            let (from, to) = ready[self.rng.random_range(0..ready.len())];
            let bytes = self
                .link_mut((from, to))
                .in_flight
                .pop_front()
                .expect("a ready link has a message on the wire");
            // The receiver answers with what it knows of the sender: the reverse link's state.
            let state = &mut self.links.get_mut(&(to, from)).expect("every pair has a link both ways").state;
            if let Err(e) = self.peers[to].receive_sync_bytes(state, &bytes) {
                panic!(
                    "replica {to} could not apply a sync message of {} bytes from replica {from}: {e}",
                    bytes.len()
                );
            }
            self.totals.steps += 1;
            self.totals.messages += 1;
            self.totals.bytes += bytes.len();
            return true;
        }
        let mut generated = false;
        for (&(from, _), link) in self.links.iter_mut().filter(|(_, l)| l.up) {
            if let Some(message) = self.peers[from].generate_sync_message(&mut link.state) {
                link.in_flight.push_back(message.encode());
                generated = true;
            }
        }
        if generated {
            self.totals.steps += 1;
        }
        generated
    }

    /// Steps until nothing more happens, and returns what that took.
    ///
    /// Quiescent is not the same as converged: replicas in different partitions settle
    /// without meeting. Check [`Network::converged`] after healing.
    ///
    /// # Panics
    ///
    /// After [`STEP_LIMIT`] steps: the replicas are stuck in a sync livelock, which is a bug.
    pub fn run_until_quiescent(&mut self) -> Stats {
        let before = self.totals;
        let mut steps = 0;
        while self.step() {
            steps += 1;
            assert!(
                steps < STEP_LIMIT,
                "the network did not settle within {STEP_LIMIT} steps ({} messages, {} bytes, {} on the \
                 wire): the replicas are stuck in a sync livelock, which is a bug",
                self.totals.messages - before.messages,
                self.totals.bytes - before.bytes,
                self.in_flight(),
            );
        }
        Stats {
            steps: self.totals.steps - before.steps,
            messages: self.totals.messages - before.messages,
            bytes: self.totals.bytes - before.bytes,
        }
    }

    /// Whether every replica has the same heads, i.e. has seen exactly the same changes.
    pub fn converged(&self) -> bool {
        let sorted = |w: &Workshop| {
            let mut heads = w.heads();
            heads.sort();
            heads
        };
        let first = sorted(&self.peers[0]);
        self.peers[1..].iter().all(|p| sorted(p) == first)
    }

    fn link(&self, a: usize, b: usize) -> &Link {
        self.check_pair(a, b);
        &self.links[&(a, b)]
    }

    fn link_mut(&mut self, (a, b): (usize, usize)) -> &mut Link {
        self.check_pair(a, b);
        self.links.get_mut(&(a, b)).expect("every pair has a link both ways")
    }

    fn check_pair(&self, a: usize, b: usize) {
        assert!(a != b, "a replica has no link to itself (replica {a})");
        assert!(a < self.len() && b < self.len(), "no link {a}–{b}: there are {} replicas", self.len());
    }
}

#[cfg(test)]
mod tests {
    use commonground_workshop::{Colour, NewNote, NewWorkshop, ParticipantId, Timestamp, Viewer, Writer};

    use super::*;

    /// A fresh workshop created by "Sam", with everything drawn from `seed`.
    fn workshop(seed: u64) -> (Workshop, ParticipantId) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        let new = NewWorkshop {
            title: "Living Well design team".into(),
            purpose: "Design the new service together.".into(),
            facilitator_name: "Sam".into(),
            facilitator_colour: Colour::Sky,
            ground_rules: None,
        };
        Workshop::create(random_actor(&mut rng), Timestamp(1_000), &mut rng, new).unwrap()
    }

    /// Adds a shared note on replica `i` as participant `by`.
    fn note(net: &mut Network, i: usize, by: ParticipantId, text: &str, now: i64) {
        let prompt = net.peer(i).board(&Viewer::default()).prompts[0].id;
        let (peer, rng) = net.peer_and_rng(i);
        let new = NewNote { prompt, text: text.into(), colour: Colour::Sun, x: 0.0, y: 0.0, private: false };
        peer.add_note(Timestamp(now), &Writer::Named(by), rng, new).unwrap();
    }

    /// Everyone joins on their own replica, then the room syncs.
    fn room(seed: u64, n: usize) -> (Network, Vec<ParticipantId>) {
        let (first, sam) = workshop(seed);
        let mut net = Network::new(seed, first, n);
        let mut people = vec![sam];
        for i in 1..n {
            let (peer, rng) = net.peer_and_rng(i);
            people.push(peer.join(Timestamp(2_000), rng, "Ngozi", Colour::Leaf, None).unwrap());
        }
        net.run_until_quiescent();
        (net, people)
    }

    fn note_count(w: &Workshop) -> usize {
        w.board(&Viewer::default()).prompts.iter().map(|p| p.notes.len()).sum()
    }

    // Guards that forks share the creator's history but write as their own actors.
    #[test]
    fn replicas_start_as_forks_with_their_own_actors() {
        let (first, _) = workshop(1);
        let net = Network::new(1, first, 4);
        assert!(net.converged());
        let mut actors: Vec<_> = (0..net.len()).map(|i| net.peer(i).actor().clone()).collect();
        actors.sort();
        actors.dedup();
        assert_eq!(actors.len(), 4);
        assert!(!net.is_empty());
    }

    // Guards against two replicas sharing an actor when the caller seeds the network as it
    // seeded the creator's actor: every sync between them failed with "duplicate seq".
    #[test]
    fn replicas_get_their_own_actors_even_from_the_creators_seed() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let new = NewWorkshop {
            title: "Living Well design team".into(),
            purpose: String::new(),
            facilitator_name: "Sam".into(),
            facilitator_colour: Colour::Sky,
            ground_rules: None,
        };
        let (first, sam) = Workshop::create(random_actor(&mut rng), Timestamp(1_000), &mut rng, new).unwrap();
        let mut net = Network::new(11, first, 3);
        assert_ne!(net.peer(0).actor(), net.peer(1).actor());
        note(&mut net, 1, sam, "Written on the second laptop", 2_000);
        net.run_until_quiescent();
        assert!(net.converged());
    }

    // Guards the basic sync loop between two laptops.
    #[test]
    fn two_peers_converge() {
        let (mut net, people) = room(2, 2);
        note(&mut net, 0, people[0], "More time to talk", 3_000);
        note(&mut net, 1, people[1], "Evening sessions", 3_000);
        let stats = net.run_until_quiescent();
        assert!(net.converged());
        assert!(stats.messages > 0 && stats.bytes > 0);
        assert_eq!(note_count(net.peer(0)), 2);
        assert_eq!(net.run_until_quiescent(), Stats::default(), "a settled network stays quiet");
    }

    // Guards convergence of concurrent writing across a full room.
    #[test]
    fn five_peers_converge() {
        let (mut net, people) = room(3, 5);
        for (i, p) in people.iter().enumerate() {
            note(&mut net, i, *p, &format!("Idea {i}"), 3_000 + i as i64);
        }
        net.run_until_quiescent();
        assert!(net.converged());
        for i in 0..5 {
            assert_eq!(note_count(net.peer(i)), 5);
            assert_eq!(net.peer(i).participants().len(), 5);
        }
    }

    // Guards that partitioned groups sync among themselves and merge once healed.
    #[test]
    fn partitions_heal() {
        let (mut net, people) = room(4, 5);
        net.partition(&[&[0, 1], &[2, 3]]);
        for (i, p) in people.iter().enumerate() {
            note(&mut net, i, *p, "Written apart", 4_000);
        }
        net.run_until_quiescent();
        assert!(!net.converged());
        assert_eq!(note_count(net.peer(0)), 2);
        assert_eq!(note_count(net.peer(3)), 2);
        assert_eq!(note_count(net.peer(4)), 1, "replica 4 was in no group");
        assert!(!net.is_connected(1, 2) && net.is_connected(2, 3));
        net.heal_all();
        net.run_until_quiescent();
        assert!(net.converged());
        assert_eq!(note_count(net.peer(4)), 5);
    }

    // Guards the reset on disconnect: a sender whose message was lost must not wait forever
    // for a reply to it.
    #[test]
    fn a_link_dropped_mid_sync_converges_after_reconnect() {
        let (mut net, people) = room(5, 2);
        note(&mut net, 0, people[0], "Sent, then lost", 5_000);
        assert!(net.step(), "the replicas have something to say");
        assert!(net.in_flight() > 0);
        net.disconnect(0, 1);
        assert_eq!(net.in_flight(), 0, "messages on a cut link are lost");
        // While apart, both keep writing; nothing can move.
        note(&mut net, 1, people[1], "Written while cut off", 5_500);
        assert_eq!(net.run_until_quiescent(), Stats::default());
        assert!(!net.converged());
        net.connect(0, 1);
        net.run_until_quiescent();
        assert!(net.converged());
        assert_eq!(note_count(net.peer(1)), 2);
    }

    // Guards the same at every point of a sync conversation, including after the changes
    // themselves were delivered but before the acknowledgement.
    #[test]
    fn a_link_dropped_at_any_step_converges_after_reconnect() {
        for cut_after in 0..8 {
            let (mut net, people) = room(6, 3);
            note(&mut net, 0, people[0], "One", 6_000);
            note(&mut net, 2, people[2], "Two", 6_000);
            for _ in 0..cut_after {
                net.step();
            }
            net.disconnect(0, 2);
            net.disconnect(0, 1);
            net.run_until_quiescent();
            net.heal_all();
            net.run_until_quiescent();
            assert!(net.converged(), "cut after {cut_after} steps");
        }
    }

    // Guards determinism: a failing run must replay exactly from its seed.
    #[test]
    fn the_same_seed_gives_the_same_run() {
        let run = |seed| {
            let (mut net, people) = room(seed, 4);
            for (i, p) in people.iter().enumerate() {
                note(&mut net, i, *p, "Same every time", 7_000);
            }
            net.partition(&[&[0, 3], &[1, 2]]);
            let apart = net.run_until_quiescent();
            net.heal_all();
            let together = net.run_until_quiescent();
            let heads: Vec<_> = (0..4).map(|i| net.peer(i).heads()).collect();
            (apart, together, net.stats(), heads)
        };
        assert_eq!(run(8), run(8));
        assert_ne!(run(8).3, run(9).3, "different seeds give different actors and ids");
    }

    // Guards the caller's mistakes being reported plainly.
    #[test]
    #[should_panic(expected = "in two groups")]
    fn a_replica_in_two_groups_is_refused() {
        let (first, _) = workshop(10);
        let mut net = Network::new(10, first, 3);
        net.partition(&[&[0, 1], &[1, 2]]);
    }
}
