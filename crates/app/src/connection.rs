//! Who is connected, in words.

use commonground_api::{ConnectionView, SyncState};
use commonground_node::PeerInfo;
use commonground_workshop::{ParticipantId, Workshop};

/// The presence panel's view, from the laptops connected now, the people using this laptop
/// (its own person and its guests), and whether the last attempt to connect was refused.
pub(crate) fn view(
    workshop: &Workshop,
    peers: &[PeerInfo],
    here_on_this_laptop: &[ParticipantId],
    phones: u32,
    refused: bool,
) -> ConnectionView {
    let mut here: Vec<ParticipantId> = here_on_this_laptop.to_vec();
    for person in workshop.participants() {
        let devices = workshop.devices(person.id);
        if peers.iter().any(|peer| devices.contains(&peer.device)) && !here.contains(&person.id) {
            here.push(person.id);
        }
    }
    let laptops = u32::try_from(peers.len()).unwrap_or(u32::MAX);
    let (state, words) = if laptops > 0 {
        (SyncState::Connected, "Everyone's up to date".to_owned())
    } else if phones > 0 && !refused {
        let phones =
            if phones == 1 { "1 phone or tablet".to_owned() } else { format!("{phones} phones or tablets") };
        (
            SyncState::Connected,
            format!(
                "{phones} connected through this laptop; no other laptops yet — your changes are safe here"
            ),
        )
    } else if refused {
        (
            SyncState::Refused,
            "Another laptop turned this one away — ask the facilitator for a new invite. Your changes are safe on this laptop."
                .to_owned(),
        )
    } else {
        (SyncState::Offline, "Working offline — your changes are safe on this laptop".to_owned())
    };
    ConnectionView { here, laptops, phones, state, words }
}
