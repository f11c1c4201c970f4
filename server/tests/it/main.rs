//! Integration tests of switchyard-server, through real HTTP on 127.0.0.1.

mod audit;
mod backup;
mod browser;
mod console;
mod cors;
mod deploy;
mod evaluate;
mod faults;
mod flags;
mod fleet;
mod guards;
mod ha;
mod hardening;
mod helpers;
mod impact;
mod kill;
mod limits;
mod ofrep;
mod plans;
mod process;
mod redis;
mod retention;
mod snapshot;
mod store_contract;
mod streams;
mod tokens;
