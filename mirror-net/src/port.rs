//! Is a TCP port free, and if not, who holds it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::Path;

use crate::Error;

/// A process, as far as `/proc` tells.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProcessInfo {
    /// Its process id.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`, e.g. `registry`, `podman`).
    pub name: String,
}

/// What [`port_status`] found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortStatus {
    /// A listener can bind the address.
    Free,
    /// Something already listens there.
    InUse {
        /// The listening process, when `/proc` shows it (it may not for other users' processes
        /// without root, nor across network namespaces such as rootless containers).
        holder: Option<ProcessInfo>,
    },
}

/// Whether a TCP listener could bind `addr`, found by binding it; when the port is taken, the
/// listening process is looked up in `/proc` (Linux; best effort).
///
/// Binding `0.0.0.0:P` is refused while anything listens on port `P`, and binding
/// `127.0.0.1:P` while something listens on `0.0.0.0:P` or `127.0.0.1:P`. Errors other than
/// "address in use" (no permission for a port below 1024, an address this host does not have)
/// are returned as [`Error::Bind`].
pub fn port_status(addr: SocketAddr) -> Result<PortStatus, Error> {
    match TcpListener::bind(addr) {
        Ok(listener) => {
            drop(listener);
            Ok(PortStatus::Free)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(PortStatus::InUse {
            holder: find_listener(addr),
        }),
        Err(source) => Err(Error::Bind { addr, source }),
    }
}

/// One line of `/proc/net/tcp` or `/proc/net/tcp6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpSocket {
    /// The local address and port.
    pub local: SocketAddr,
    /// The TCP state (`0x0A` is listening).
    pub state: u8,
    /// The owner's user id.
    pub uid: u32,
    /// The socket inode, which `/proc/PID/fd/N` links name as `socket:[INODE]`.
    pub inode: u64,
}

/// The TCP state of a listening socket in `/proc/net/tcp`.
pub const TCP_LISTEN: u8 = 0x0A;

impl TcpSocket {
    /// Whether this is a listener that keeps `addr` from being bound.
    fn blocks(&self, addr: SocketAddr) -> bool {
        let (mine, theirs) = (self.local.ip(), addr.ip());
        self.state == TCP_LISTEN
            && self.local.port() == addr.port()
            && (mine == theirs
                || mine.is_unspecified()
                || theirs.is_unspecified()
                || mapped(mine) == Some(theirs))
    }
}

fn mapped(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        IpAddr::V4(_) => None,
    }
}

/// Parse `/proc/net/tcp` or `/proc/net/tcp6`; the header and malformed lines are skipped.
///
/// Addresses are printed by the kernel as 32-bit words in host byte order, so the result is
/// right on the machine that produced the text.
pub fn parse_proc_net_tcp(text: &str) -> Vec<TcpSocket> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<TcpSocket> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 10 || !fields[0].ends_with(':') {
        return None;
    }
    let local = parse_socket_addr(fields[1])?;
    let state = u8::from_str_radix(fields[3], 16).ok()?;
    let uid = fields[7].parse().ok()?;
    let inode = fields[9].parse().ok()?;
    Some(TcpSocket {
        local,
        state,
        uid,
        inode,
    })
}

/// `0100007F:1F90` is 127.0.0.1:8080 on a little-endian machine.
fn parse_socket_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes);
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(addr)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(addr.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// `socket:[12345]` is socket inode 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The process listening where `addr` would bind, if `/proc` shows it.
fn find_listener(addr: SocketAddr) -> Option<ProcessInfo> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|text| parse_proc_net_tcp(&text))
        .filter(|s| s.blocks(addr) && s.inode != 0)
        .map(|s| s.inode)
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find_map(|pid| {
        let holds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .ok()?
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .any(|link| {
                link.to_str()
                    .and_then(socket_inode)
                    .is_some_and(|i| inodes.contains(&i))
            });
        holds.then(|| ProcessInfo {
            pid,
            name: process_name(pid),
        })
    })
}

fn process_name(pid: u32) -> String {
    std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as a little-endian kernel prints them.
    #[cfg(target_endian = "little")]
    #[test]
    fn proc_net_tcp_table() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 578 1 000000008e5842f9 100 0 0 10 0
   1: 0100007F:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 91234 1 0000000000000000 100 0 0 10 0
   2: 0401000A:D2F0 0501000A:01BB 01 00000000:00000000 02:000A5B2C 00000000  1000        0 0 2 0000000000000000 20 4 30 10 -1
   3: garbage
   4: 0100007F:ZZZZ 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
";
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1388 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 700 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 701 1 0000000000000000 100 0 0 10 0
   2: B80D0120000000000000000004000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 702 1 0000000000000000 100 0 0 10 0
   3: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 703 1 0000000000000000 100 0 0 10 0
";
        let render = |text: &str| -> Vec<String> {
            parse_proc_net_tcp(text)
                .iter()
                .map(|s| {
                    format!(
                        "{} st={:02X} uid={} inode={}",
                        s.local, s.state, s.uid, s.inode
                    )
                })
                .collect()
        };
        assert_eq!(
            render(tcp),
            [
                "0.0.0.0:5000 st=0A uid=0 inode=578",
                "127.0.0.1:8443 st=0A uid=1000 inode=91234",
                "10.0.1.4:54000 st=01 uid=1000 inode=0",
            ]
        );
        assert_eq!(
            render(tcp6),
            [
                "[::]:5000 st=0A uid=0 inode=700",
                "[::1]:8443 st=0A uid=0 inode=701",
                "[2001:db8::4]:443 st=0A uid=0 inode=702",
                "[::ffff:127.0.0.1]:8080 st=0A uid=0 inode=703",
            ]
        );
    }

    #[test]
    fn which_listeners_block_which_binds() {
        let listener = |local: &str, state: u8| TcpSocket {
            local: local.parse().unwrap(),
            state,
            uid: 0,
            inode: 1,
        };
        let cases = [
            ("0.0.0.0:5000", TCP_LISTEN, "127.0.0.1:5000", true),
            ("127.0.0.1:5000", TCP_LISTEN, "0.0.0.0:5000", true),
            ("127.0.0.1:5000", TCP_LISTEN, "127.0.0.1:5000", true),
            ("127.0.0.1:5000", TCP_LISTEN, "10.0.0.4:5000", false),
            ("127.0.0.1:5000", TCP_LISTEN, "127.0.0.1:5001", false),
            ("127.0.0.1:5000", 0x01, "127.0.0.1:5000", false),
            ("[::]:5000", TCP_LISTEN, "10.0.0.4:5000", true),
            ("[::ffff:10.0.0.4]:5000", TCP_LISTEN, "10.0.0.4:5000", true),
            ("[::1]:5000", TCP_LISTEN, "127.0.0.1:5000", false),
        ];
        let got: Vec<_> = cases
            .iter()
            .map(|(l, st, a, _)| (*l, *st, *a, listener(l, *st).blocks(a.parse().unwrap())))
            .collect();
        assert_eq!(got, cases.to_vec());
    }

    #[test]
    fn socket_inode_links() {
        let cases = [
            ("socket:[578]", Some(578)),
            ("socket:[]", None),
            ("pipe:[578]", None),
            ("/dev/null", None),
            ("anon_inode:[eventfd]", None),
        ];
        let got: Vec<_> = cases.iter().map(|(l, _)| (*l, socket_inode(l))).collect();
        assert_eq!(got, cases.to_vec());
    }

    #[test]
    fn real_port_in_use_then_free() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let me = ProcessInfo {
            pid: std::process::id(),
            name: process_name(std::process::id()),
        };
        assert_eq!(
            port_status(addr).unwrap(),
            PortStatus::InUse { holder: Some(me) }
        );
        let any = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), addr.port());
        assert!(
            matches!(port_status(any).unwrap(), PortStatus::InUse { holder: Some(p) } if p.pid == std::process::id())
        );
        drop(listener);
        assert_eq!(port_status(addr).unwrap(), PortStatus::Free);
    }

    #[test]
    fn bind_errors_other_than_in_use() {
        // TEST-NET-1 is not an address of this host.
        let addr: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let err = port_status(addr).unwrap_err();
        assert_eq!(
            (crate::error::chain(&err), err.hint()),
            (
                "bind `192.0.2.1:5000`: Cannot assign requested address (os error 99)".to_string(),
                Some("`192.0.2.1` is not an address of this host: use one of its own addresses or `0.0.0.0`".to_string())
            )
        );
    }
}
