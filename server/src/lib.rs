//! The chatsync reference backend (being built; see issue "Reference backend").
