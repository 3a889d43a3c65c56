//! The list of workshops a window can open.

use commonground_api::{Local, WorkshopService, WorkshopSummary};
use commonground_workshop::WorkshopId;

/// One workshop as listed for the person with `local` state in it.
pub(crate) fn summary(id: WorkshopId, service: &WorkshopService) -> WorkshopSummary {
    let workshop = service.workshop();
    let meta = workshop.meta();
    let me = service.local().participant.and_then(|p| workshop.participant(p));
    WorkshopSummary {
        id,
        title: meta.title,
        facilitator: me.as_ref().is_some_and(|p| p.facilitator),
        name: me.filter(|p| !p.removed).map(|p| p.name),
    }
}

/// Whether a guest with this state may still use the workshop: not once removed.
pub(crate) fn guest_removed(service: &WorkshopService) -> bool {
    let local: &Local = service.local();
    local.participant.and_then(|p| service.workshop().participant(p)).is_some_and(|p| p.removed)
}
