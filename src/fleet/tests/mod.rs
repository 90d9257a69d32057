//! Unit tests of the DDI client against recorded server answers (hawkBit's documented
//! examples), back-off, pins and the HTTP pieces. The agent through the real binary against a
//! live server is tests/fleet_ddi.rs.

mod backoff;
mod ddi;
mod http;
mod pins;
