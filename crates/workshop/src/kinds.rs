//! The small vocabularies of the workshop: phases, stances, kinds and statuses.

use crate::keyed::keyed_enum;

keyed_enum!(
    /// Where the room is in the workshop's rhythm. Everyone sees the same phase banner.
    Phase {
        /// Arriving, ground rules, introductions.
        Welcome = "welcome",
        /// Everyone writes on their own; new notes stay private until the reveal.
        WritePrivately = "write_privately",
        /// Notes are shared with the room.
        Share = "share",
        /// Grouping notes that belong together.
        Cluster = "cluster",
        /// Dot voting.
        Vote = "vote",
        /// Talking it through, with helpful challenge.
        Discuss = "discuss",
        /// Agreeing values by consent.
        Agree = "agree",
        /// What worked, what didn't, what could be better, new ideas.
        Reflect = "reflect",
    }
);

impl Phase {
    /// The phase's name in plain English.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Welcome => "Welcome",
            Phase::WritePrivately => "Writing on our own",
            Phase::Share => "Sharing our notes",
            Phase::Cluster => "Grouping notes",
            Phase::Vote => "Voting",
            Phase::Discuss => "Talking it through",
            Phase::Agree => "Agreeing values",
            Phase::Reflect => "Reflecting",
        }
    }
}

keyed_enum!(
    /// Whether a session happened in the room or apart.
    SessionKind {
        /// Together in the room.
        InRoom = "in_room",
        /// Apart, each in their own time.
        Async = "async",
    }
);

keyed_enum!(
    /// What sort of thing a challenge is aimed at.
    TargetKind {
        /// A sticky note.
        Note = "note",
        /// A value.
        Value = "value",
        /// A reflection.
        Reflection = "reflection",
    }
);

keyed_enum!(
    /// The kind of a helpful challenge.
    ChallengeKind {
        /// "I see it differently because…"
        SeeDifferently = "see_differently",
        /// "What if…"
        WhatIf = "what_if",
        /// "A question"
        Question = "question",
    }
);

impl ChallengeKind {
    /// The words the challenge opens with.
    pub fn label(self) -> &'static str {
        match self {
            ChallengeKind::SeeDifferently => "I see it differently because…",
            ChallengeKind::WhatIf => "What if…",
            ChallengeKind::Question => "A question",
        }
    }
}

keyed_enum!(
    /// Where a challenge has got to.
    ChallengeStatus {
        /// Still open.
        Open = "open",
        /// The group has heard it.
        Heard = "heard",
        /// It changed someone's view.
        ChangedView = "changed_view",
        /// Parked to come back to.
        Parked = "parked",
    }
);

impl ChallengeStatus {
    /// The status in plain English.
    pub fn label(self) -> &'static str {
        match self {
            ChallengeStatus::Open => "Open",
            ChallengeStatus::Heard => "Heard",
            ChallengeStatus::ChangedView => "Changed my view",
            ChallengeStatus::Parked => "Parked for later",
        }
    }
}

keyed_enum!(
    /// A participant's stance in a consent round.
    Stance {
        /// I agree.
        Agree = "agree",
        /// I can live with it, with reservations (reason required).
        Reservations = "reservations",
        /// I stand aside: I won't block it, and I won't take part in it.
        StandAside = "stand_aside",
        /// I object (reason required; opens a linked challenge).
        Object = "object",
    }
);

impl Stance {
    /// Whether this stance must come with a reason.
    pub fn needs_reason(self) -> bool {
        matches!(self, Stance::Reservations | Stance::Object)
    }

    /// The stance in plain English.
    pub fn label(self) -> &'static str {
        match self {
            Stance::Agree => "Agree",
            Stance::Reservations => "Agree with reservations",
            Stance::StandAside => "Stand aside",
            Stance::Object => "Object",
        }
    }
}

keyed_enum!(
    /// Where a value has got to.
    ValueStatus {
        /// Being drafted or reworked.
        Draft = "draft",
        /// A consent round is open.
        InConsent = "in_consent",
        /// Agreed by consent.
        Agreed = "agreed",
        /// Set aside by the group.
        Withdrawn = "withdrawn",
    }
);

keyed_enum!(
    /// How a closed consent round ended.
    RoundOutcome {
        /// Quorum reached and no unresolved objection.
        Agreed = "agreed",
        /// Too few people gave a stance.
        NoQuorum = "no_quorum",
        /// At least one objection was still unresolved.
        Objection = "objection",
        /// The value was withdrawn while the round was open.
        Withdrawn = "withdrawn",
    }
);

keyed_enum!(
    /// The four reflection prompts.
    ReflectionKind {
        /// What worked.
        Worked = "worked",
        /// What didn't work.
        DidntWork = "didnt_work",
        /// What we could do better.
        DoBetter = "do_better",
        /// New ideas.
        NewIdea = "new_idea",
    }
);

impl ReflectionKind {
    /// The prompt in plain English.
    pub fn label(self) -> &'static str {
        match self {
            ReflectionKind::Worked => "What worked",
            ReflectionKind::DidntWork => "What didn't work",
            ReflectionKind::DoBetter => "What we could do better",
            ReflectionKind::NewIdea => "New ideas",
        }
    }
}

keyed_enum!(
    /// What an action came out of.
    ActionSourceKind {
        /// A reflection.
        Reflection = "reflection",
        /// A challenge.
        Challenge = "challenge",
        /// A value.
        Value = "value",
    }
);

keyed_enum!(
    /// An optional, private-by-default description of the experience someone brings. Only
    /// ever shown as counts ("4 people with lived experience"), never beside a name, and never
    /// a title or a job.
    Perspective {
        /// Lived experience of services.
        LivedExperience = "lived_experience",
        /// A carer, family member or friend.
        Carer = "carer",
        /// A voluntary or community group.
        Community = "community",
        /// Works in services.
        Services = "services",
        /// Plans or pays for services.
        Commissioning = "commissioning",
        /// Something else.
        Other = "other",
    }
);
