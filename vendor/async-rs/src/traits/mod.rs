//! A collection of traits to define a common interface across async runtimes

mod addr;
pub use addr::*;

mod executor;
pub use executor::*;

mod reactor;
pub use reactor::*;

mod runtime;
pub use runtime::*;
