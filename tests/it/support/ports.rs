//! Free local ports chosen at run time.
//!
//! The ports are found by binding 127.0.0.1:0 and released before they are handed to a daemon,
//! so another process may take one in between: daemon starters retry with new ports when a
//! listener cannot be created.

use std::net::{TcpListener, UdpSocket};

/// `n` distinct ports on 127.0.0.1 that were free for both TCP and UDP when chosen.
pub fn free_ports(n: usize) -> Vec<u16> {
    let mut held_tcp = Vec::new();
    let mut held_udp = Vec::new();
    let mut ports = Vec::new();
    let mut attempts = 0;
    while ports.len() < n {
        attempts += 1;
        assert!(
            attempts < 1000,
            "could not find {n} free ports on 127.0.0.1"
        );
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 (tcp)");
        let port = tcp.local_addr().expect("local_addr").port();
        // Also require the same UDP port to be free, so any port can serve either transport.
        let Ok(udp) = UdpSocket::bind(("127.0.0.1", port)) else {
            continue;
        };
        held_tcp.push(tcp);
        held_udp.push(udp);
        ports.push(port);
    }
    ports
}

/// One free port (TCP and UDP).
pub fn free_port() -> u16 {
    free_ports(1)[0]
}
