//! The SSRF guard: which addresses chorus may connect to, checked at DNS resolution.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Text in resolver errors that marks a block (so the caller can tell it from DNS failure).
pub(crate) const BLOCKED_MARK: &str = "resolves only to non-public addresses";

fn v4_public(a: Ipv4Addr, allow_loopback: bool) -> bool {
    let o = a.octets();
    if a.is_loopback() {
        return allow_loopback;
    }
    !(a.is_unspecified()
        || o[0] == 0
        || a.is_private()
        || a.is_link_local() // 169.254/16, cloud metadata included
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 IETF
        || (o[0] == 192 && o[1] == 0 && o[2] == 2) // documentation
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15 benchmarking
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
        || a.is_multicast()
        || o[0] >= 240) // reserved and broadcast
}

fn v6_public(a: Ipv6Addr, allow_loopback: bool) -> bool {
    if a.is_loopback() {
        return allow_loopback;
    }
    if let Some(v4) = a.to_ipv4_mapped() {
        return v4_public(v4, allow_loopback);
    }
    let s = a.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return v4_public(v4, allow_loopback);
    }
    !(a.is_unspecified()
        || a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
}

/// Whether chorus may connect to `ip`: a public unicast address (loopback only when
/// `allow_loopback`). Private, link-local (cloud metadata at 169.254.169.254), carrier-NAT,
/// documentation, multicast and reserved ranges are never public, also when an IPv6
/// address embeds them.
pub fn is_public(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(a) => v4_public(a, allow_loopback),
        IpAddr::V6(a) => v6_public(a, allow_loopback),
    }
}

/// A DNS resolver that returns only addresses [`is_public`] accepts.
pub(crate) struct PublicResolver {
    pub(crate) allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (public, blocked): (Vec<SocketAddr>, Vec<SocketAddr>) =
                all.into_iter().partition(|a| is_public(a.ip(), allow_loopback));
            if public.is_empty() {
                let shown: Vec<String> = blocked.iter().map(|a| a.ip().to_string()).collect();
                let msg = format!("blocked: {host} {BLOCKED_MARK} ({})", shown.join(", "));
                return Err(msg.into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_local_and_metadata_addresses_are_not_public() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "127.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.10",
            "::1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().unwrap(), false), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "2a00:1450:4001::1", "::ffff:8.8.8.8", "100.128.0.1"] {
            assert!(is_public(ip.parse().unwrap(), false), "{ip}");
        }
        assert!(is_public("127.0.0.1".parse().unwrap(), true));
        assert!(is_public("::1".parse().unwrap(), true));
        assert!(!is_public("10.0.0.1".parse().unwrap(), true), "allowing loopback allows nothing else");
    }
}
