//! The attack suite (`guarantees.md`): one module per class of guarantee, each generating its
//! hostile input and attacking the class at its choke point. `THREAT-MODEL.md` maps every entry
//! point of the program to its module here.

mod concurrency;
mod credentials;
mod export;
mod files;
mod injection;
mod masking;
mod network;
mod watch;
