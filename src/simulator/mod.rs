//! A faithful fake of Entra ID token endpoints and the MDE alerts API (in progress).
