//! Whether a host a tenant typed in (an SMTP server) is somewhere Herald may connect to: every
//! address it resolves to must be public. Loopback, private (RFC 1918, IPv6 ULA), link-local,
//! shared (CGNAT, RFC 6598), unspecified, multicast, broadcast and reserved addresses are
//! refused — among them the cloud metadata endpoints 169.254.169.254 and fd00:ec2::254 — and
//! IPv4 addresses hidden in IPv6 (mapped, compatible, NAT64) are judged as IPv4. Operators
//! who run their mail relay on an internal network allow private hosts in configuration.
//!
//! The check is made when settings are saved and tested; a name whose DNS answer changes
//! later is not checked again at each delivery.

use herald_core::Invalid;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Resolves `host` and refuses it (naming `field`) unless every address is public or
/// `allow_private` is set; a host that does not resolve is refused too.
pub async fn ensure_public(field: &str, host: &str, port: u16, allow_private: bool) -> Result<(), Invalid> {
    let host = host.trim();
    if host.is_empty() || host.len() > 253 || host.contains(['/', '@', ' ']) {
        return Err(Invalid::new(field, "must be a host name or an IP address"));
    }
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let addresses: Vec<IpAddr> = match literal.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::net::lookup_host((host, port)).await {
            Ok(found) => found.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        },
    };
    if addresses.is_empty() {
        return Err(Invalid::new(field, "cannot be resolved"));
    }
    if !allow_private && addresses.iter().any(|ip| !is_public(*ip)) {
        return Err(Invalid::new(field, "resolves to a loopback, private, link-local or metadata address, which is not allowed"));
    }
    Ok(())
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// The IPv4 address an IPv6 one carries: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`)
/// or NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let compatible = s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4];
    (mapped || compatible || nat64).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal} must not count as public");
        }
        for public in ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
    }

    #[tokio::test]
    async fn hosts_are_resolved_before_they_are_judged() {
        let refused = ensure_public("host", "localhost", 25, false).await.unwrap_err();
        assert_eq!(refused.field, "host");
        assert!(refused.reason.contains("not allowed"), "{refused}");
        assert!(ensure_public("host", "[::1]", 25, false).await.is_err());
        assert!(ensure_public("host", "127.0.0.1", 25, true).await.is_ok(), "allowed by configuration");
        assert!(ensure_public("host", "8.8.8.8", 25, false).await.is_ok());
        assert!(ensure_public("host", "bad host/", 25, true).await.is_err());
    }
}
