//! String-like values of the alert model and the shapes the API sends them in.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A string value that borrows from the input unless it had JSON escapes.
///
/// `Cow<str>` alone does not borrow inside `Option` or `Vec` (serde's `borrow` attribute does not
/// reach through them), hence this newtype with its own visitor. Numbers and booleans are taken
/// as their JSON text, so `incidentId: 4711` and `incidentId: "4711"` read the same.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Str<'a>(pub Cow<'a, str>);

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<'a> From<&'a str> for Str<'a> {
    fn from(s: &'a str) -> Self {
        Str(Cow::Borrowed(s))
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Str(Cow::Borrowed(if v { "true" } else { "false" })))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor)
    }
}

/// A list of strings that the API sends as an array (real answers) or a single string (the
/// documentation), e.g. `mitreTechniques`. Null elements are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrList<'a>(pub Vec<Str<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for StrList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = StrList<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of strings or a string")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(item) = seq.next_element::<Option<Str<'de>>>()? {
                    items.extend(item);
                }
                Ok(StrList(items))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StrList(vec![Str(Cow::Borrowed(v))]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrList(vec![Str(Cow::Owned(v.to_owned()))]))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StrList(vec![Str(Cow::Owned(v))]))
            }
        }
        d.deserialize_any(ListVisitor)
    }
}

/// `relatedUser`: an object `{userName, domainName}` in real answers, a string in the
/// documentation. A string `DOMAIN\user` is split at the first backslash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelatedUser<'a> {
    /// `userName`: the account name, such as `jdoe`.
    pub user_name: Option<Str<'a>>,
    /// `domainName`: the account's domain, such as `CONTOSO`; none when a string had no backslash.
    pub domain_name: Option<Str<'a>>,
}

impl<'a> RelatedUser<'a> {
    pub(crate) fn from_text(text: Cow<'a, str>) -> Self {
        let Some(at) = text.find('\\') else {
            return RelatedUser {
                user_name: Some(Str(text)),
                domain_name: None,
            };
        };
        let (domain, user) = match text {
            Cow::Borrowed(s) => (Cow::Borrowed(&s[..at]), Cow::Borrowed(&s[at + 1..])),
            Cow::Owned(s) => (
                Cow::Owned(s[..at].to_owned()),
                Cow::Owned(s[at + 1..].to_owned()),
            ),
        };
        RelatedUser {
            user_name: Some(Str(user)),
            domain_name: Some(Str(domain)),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RelatedUser<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Object<'a> {
            #[serde(borrow, default)]
            user_name: Option<Str<'a>>,
            #[serde(borrow, default)]
            domain_name: Option<Str<'a>>,
        }
        struct UserVisitor;
        impl<'de> Visitor<'de> for UserVisitor {
            type Value = RelatedUser<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object {userName, domainName} or a string")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let o = Object::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RelatedUser {
                    user_name: o.user_name,
                    domain_name: o.domain_name,
                })
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RelatedUser::from_text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RelatedUser::from_text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(RelatedUser::from_text(Cow::Owned(v)))
            }
        }
        d.deserialize_any(UserVisitor)
    }
}

/// Whether a `value` member is an array (then the object is an API page).
#[derive(Debug, Default)]
pub(crate) struct ArrayMarker(pub bool);

impl<'de> Deserialize<'de> for ArrayMarker {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MarkerVisitor;
        impl<'de> Visitor<'de> for MarkerVisitor {
            type Value = ArrayMarker;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ArrayMarker(true))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ArrayMarker(false))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ArrayMarker(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ArrayMarker(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ArrayMarker(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ArrayMarker(false))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(ArrayMarker(false))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(ArrayMarker(false))
            }
        }
        d.deserialize_any(MarkerVisitor)
    }
}
