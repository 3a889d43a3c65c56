//! mDNS (DNS-SD) through `mdns-sd`: advertising this laptop's tags and browsing for others'.
//!
//! The service is `_commonground._tcp.local.`, under a random instance name and a random
//! host name made fresh every run, so nothing on the network names the laptop or its owner.
//! The TXT record holds only `v=1` (this format) and the discovery tags, as lower-case hex,
//! comma-separated: `t=<tag>,<tag>,…`, continued in `t2`, `t3`… past
//! [`TAGS_PER_TXT_STRING`] tags (one TXT string holds at most 255 bytes, and DNS-SD keys
//! must be unique). Never titles, names, host names or keys.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use commonground_protocol::{DiscoveryTag, TAG_LEN};
use mdns_sd::{
    IfKind, Receiver, ResolvedService, ScopedIp, ServiceDaemon, ServiceEvent, ServiceInfo, TxtProperty,
};

use super::engine::MAX_WORKSHOPS;
use super::Scope;

/// The DNS-SD service type.
pub(crate) const SERVICE_TYPE: &str = "_commonground._tcp.local.";
/// The TXT format version.
const TXT_VERSION: &str = "1";
/// Tags per TXT string: `t=` plus 14 × 16 hex digits and 13 commas is 239 bytes (≤ 255).
pub(crate) const TAGS_PER_TXT_STRING: usize = 14;

/// The TXT properties advertising `tags`.
pub(crate) fn txt_for(tags: &[DiscoveryTag]) -> Vec<TxtProperty> {
    let mut props = vec![TxtProperty::from(("v", TXT_VERSION))];
    for (i, chunk) in tags.chunks(TAGS_PER_TXT_STRING).enumerate() {
        let key = if i == 0 { "t".to_owned() } else { format!("t{}", i + 1) };
        let value: Vec<String> = chunk.iter().map(|tag| hex(tag)).collect();
        props.push(TxtProperty::from((key, value.join(","))));
    }
    props
}

/// The tags in a peer's TXT properties (`key`, `value`), or `None` if it is not version 1.
/// Malformed tags are skipped; at most [`MAX_WORKSHOPS`] are read.
pub(crate) fn tags_from_txt<'a>(
    props: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
) -> Option<Vec<DiscoveryTag>> {
    let mut version_ok = false;
    let mut tags = Vec::new();
    for (key, value) in props {
        let key = key.to_ascii_lowercase();
        if key == "v" {
            version_ok = value == Some(TXT_VERSION.as_bytes());
        } else if key == "t" || key.strip_prefix('t').is_some_and(|n| n.parse::<u8>().is_ok()) {
            let Some(value) = value else { continue };
            for part in value.split(|&b| b == b',') {
                if tags.len() >= MAX_WORKSHOPS {
                    break;
                }
                if let Some(tag) = unhex(part) {
                    tags.push(tag);
                }
            }
        }
    }
    version_ok.then_some(tags)
}

/// The addresses a resolved service listens on. IPv6 link-local addresses keep the
/// interface they were seen on as their scope; they mean nothing without it.
pub(crate) fn service_addrs(service: &ResolvedService) -> Vec<SocketAddr> {
    let port = service.port;
    let mut addrs: Vec<SocketAddr> = service
        .addresses
        .iter()
        .filter_map(|ip| match ip {
            ScopedIp::V4(v4) => Some(SocketAddr::new(IpAddr::V4(*v4.addr()), port)),
            ScopedIp::V6(v6) => {
                let scope = if v6.addr().is_unicast_link_local() { v6.scope_id().index } else { 0 };
                Some(SocketAddr::V6(SocketAddrV6::new(*v6.addr(), port, 0, scope)))
            }
            _ => None,
        })
        .filter(|addr| port != 0 && !addr.ip().is_unspecified() && !addr.ip().is_multicast())
        .collect();
    addrs.sort();
    addrs
}

/// A running mDNS responder and browser.
pub(crate) struct Mdns {
    daemon: ServiceDaemon,
    fullname: String,
    instance: String,
    hostname: String,
    listen_port: u16,
    registered: bool,
}

impl std::fmt::Debug for Mdns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mdns").field("fullname", &self.fullname).finish_non_exhaustive()
    }
}

impl Mdns {
    /// Starts the daemon on `mdns_port` (5353 in real use) and begins browsing. `random` is
    /// 16 random bytes for the instance and host names.
    pub(crate) fn start(
        scope: Scope,
        mdns_port: u16,
        listen_port: u16,
        random: [u8; 16],
    ) -> Result<(Self, Receiver<ServiceEvent>), mdns_sd::Error> {
        let daemon = ServiceDaemon::new_with_port(mdns_port)?;
        if scope == Scope::Loopback {
            // Interface selections apply in order: nothing, then loopback only.
            daemon.disable_interface(IfKind::All)?;
            daemon.enable_interface(IfKind::LoopbackV4)?;
        } else {
            // Laptops reach each other over IPv4 and IPv6 both; loopback is for tests.
            daemon.disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])?;
        }
        let instance = hex(&random[..8]);
        let hostname = format!("cg-{}.local.", hex(&random[8..]));
        let fullname = format!("{instance}.{SERVICE_TYPE}");
        let events = daemon.browse(SERVICE_TYPE)?;
        Ok((Self { daemon, fullname, instance, hostname, listen_port, registered: false }, events))
    }

    /// Our service's full name.
    pub(crate) fn fullname(&self) -> &str {
        &self.fullname
    }

    /// Advertises `tags` (replacing what was advertised), or withdraws the service when
    /// there are none: a laptop with no workshop to offer has nothing to say.
    pub(crate) fn advertise(&mut self, tags: &[DiscoveryTag]) -> Result<(), mdns_sd::Error> {
        if tags.is_empty() {
            if self.registered {
                self.registered = false;
                self.daemon.unregister(&self.fullname)?;
            }
            return Ok(());
        }
        let mut info = ServiceInfo::new(
            SERVICE_TYPE,
            &self.instance,
            &self.hostname,
            (),
            self.listen_port,
            txt_for(tags),
        )?
        .enable_addr_auto();
        // The instance name is 64 random bits, so it can't clash; probing would only delay
        // the first announcement and every re-registration when the tags rotate.
        info.set_requires_probe(false);
        self.daemon.register(info)?;
        self.registered = true;
        Ok(())
    }

    /// Withdraws the service (peers see it go at once) and stops the daemon.
    pub(crate) fn stop(self) {
        if self.registered {
            let _ = self.daemon.unregister(&self.fullname);
        }
        let _ = self.daemon.shutdown();
    }
}

/// What one browse event means to the engine.
#[derive(Debug)]
pub(crate) enum Browsed {
    /// A service resolved, with its tags and addresses.
    Resolved { fullname: String, tags: Vec<DiscoveryTag>, addrs: Vec<SocketAddr> },
    /// A service went away.
    Removed { fullname: String },
    /// Nothing of interest (another version, a search starting, …).
    Other,
}

/// Interprets one browse event.
pub(crate) fn interpret(event: ServiceEvent) -> Browsed {
    match event {
        ServiceEvent::ServiceResolved(service) => {
            let props = service.get_properties().iter().map(|p| (p.key(), p.val()));
            match tags_from_txt(props) {
                Some(tags) => Browsed::Resolved {
                    fullname: service.fullname.clone(),
                    tags,
                    addrs: service_addrs(&service),
                },
                None => Browsed::Other,
            }
        }
        ServiceEvent::ServiceRemoved(_, fullname) => Browsed::Removed { fullname },
        _ => Browsed::Other,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &[u8]) -> Option<DiscoveryTag> {
    if text.len() != TAG_LEN * 2 {
        return None;
    }
    let mut tag = [0u8; TAG_LEN];
    for (out, pair) in tag.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16);
        *out = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(txt: &[TxtProperty]) -> Vec<(&str, Option<&[u8]>)> {
        txt.iter().map(|p| (p.key(), p.val())).collect()
    }

    #[test]
    fn txt_holds_only_the_version_and_tags() {
        // Guards privacy: nothing but `v` and `t…` keys, hex tags, within 255 bytes each.
        let tags: Vec<DiscoveryTag> = (0..30u8).map(|i| [i; 8]).collect();
        let txt = txt_for(&tags);
        let keys: Vec<&str> = txt.iter().map(TxtProperty::key).collect();
        assert_eq!(keys, ["v", "t", "t2", "t3"]);
        assert_eq!(txt[0].val(), Some(&b"1"[..]));
        assert!(txt.iter().all(|p| p.key().len() + 1 + p.val().map_or(0, <[u8]>::len) <= 255));
        assert_eq!(txt[1].val_str().split(',').next(), Some("0000000000000000"));
        assert_eq!(tags_from_txt(props(&txt)), Some(tags));
    }

    #[test]
    fn txt_of_another_version_or_garbage_is_ignored() {
        let tag = [0xab; 8];
        let txt = txt_for(&[tag]);
        let mut p = props(&txt);
        p[0].1 = Some(b"2");
        assert_eq!(tags_from_txt(p), None, "a newer format");
        assert_eq!(tags_from_txt(vec![("t", Some(&b"abababababababab"[..]))]), None, "no version");
        let odd = tags_from_txt(vec![
            ("v", Some(&b"1"[..])),
            ("t", Some(&b"zz,abababababababab,ab,,abababababababab00"[..])),
            ("tx", Some(&b"cdcdcdcdcdcdcdcd"[..])),
            ("T9", Some(&b"ABABABABABABABAB"[..])),
            ("t3", None),
        ]);
        assert_eq!(odd, Some(vec![tag, tag]));
    }

    #[test]
    fn at_most_max_workshops_tags_are_read() {
        let tags: Vec<DiscoveryTag> = (0..200u8).map(|i| [i; 8]).collect();
        assert_eq!(tags_from_txt(props(&txt_for(&tags))).map(|t| t.len()), Some(MAX_WORKSHOPS));
    }
}
