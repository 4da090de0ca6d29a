//! Code generation from the validated [`Enum`]. Everything generated refers
//! to the runtime through `::rex::__private` and to the standard library
//! through `::core`, so it works in any crate that depends on `rex`,
//! whatever that crate has in scope.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use syn::DeriveInput;

use crate::ast::{Enum, Field, Role, Shape, Variant};
use crate::ctxt::Ctxt;
use crate::valid;

pub(crate) fn derive(input: &DeriveInput, role: Role) -> TokenStream {
    let mut cx = Ctxt::default();
    let parsed = Enum::from_ast(&mut cx, input, role);
    if let Some(e) = &parsed {
        valid::check(&mut cx, e);
    }
    let tokens = match (cx.check(), parsed) {
        (Ok(()), Some(e)) => expand(&e),
        (Err(errors), parsed) => {
            let mut tokens = fallback(input, role, parsed.as_ref());
            tokens.extend(errors.to_compile_error());
            tokens
        }
        (Ok(()), None) => fallback(input, role, None),
    };
    if std::env::var_os("REX_MACROS_DEBUG").is_some() {
        eprintln!(
            "// #[derive({})] on `{}`:\n{tokens}",
            role.trait_name(),
            input.ident
        );
    }
    tokens
}

/// After an error, still implement the trait (with bodies that are never
/// run, since the crate does not compile) so the user sees their mistake and
/// not a cascade of "trait not implemented" errors.
fn fallback(input: &DeriveInput, role: Role, parsed: Option<&Enum<'_>>) -> TokenStream {
    if !matches!(input.data, syn::Data::Enum(_)) || !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = &input.ident;
    let trait_path = trait_path(role);
    // The app's `type Protocol = …` would fail too without this.
    let protocol = match parsed.and_then(|e| e.events.as_ref()) {
        Some(events) if role == Role::Message => quote! {
            const _: () = {
                #[automatically_derived]
                impl ::rex::__private::Protocol for #ident {
                    const APP: &'static str = "";
                    type Event = #events;
                }
            };
        },
        _ => TokenStream::new(),
    };
    quote! {
        #protocol
        const _: () = {
            #[automatically_derived]
            impl #trait_path for #ident {
                const KINDS: &'static [&'static str] = &[];
                fn kind(&self) -> &'static str {
                    ::core::unreachable!()
                }
                fn encode_data(&self) -> ::core::result::Result<::core::option::Option<::rex::__private::Value>, ::rex::__private::EncodeError> {
                    ::core::unreachable!()
                }
                fn decode(kind: &str, data: ::core::option::Option<::rex::__private::Value>) -> ::core::result::Result<Self, ::rex::__private::DecodeError> {
                    ::core::unreachable!()
                }
            }
        };
    }
}

fn trait_path(role: Role) -> TokenStream {
    match role {
        Role::Message => quote!(::rex::__private::RexMessage),
        Role::Event => quote!(::rex::__private::RexEvent),
    }
}

fn expand(e: &Enum<'_>) -> TokenStream {
    let codec = expand_codec(e);
    let describe = expand_describe(e);
    let extra = match e.role {
        Role::Message => {
            let protocol = expand_protocol(e);
            let handler = expand_message_handler(e);
            let client = expand_client(e);
            quote! {
                #protocol
                ::rex::__private::if_server! { #handler }
                ::rex::__private::if_client! { #client }
            }
        }
        Role::Event => {
            let handler = expand_event_handler(e);
            quote! { ::rex::__private::if_client! { #handler } }
        }
    };
    quote! { #codec #describe #extra }
}

fn method_ident(v: &Variant<'_>) -> Ident {
    let span = v.ident.span();
    match syn::parse_str::<Ident>(&v.method) {
        Ok(mut ident) => {
            ident.set_span(span);
            ident
        }
        Err(_) => Ident::new_raw(&v.method, span),
    }
}

/// Doc attributes of a variant, or a plain sentence if it has none.
fn docs_or(v: &Variant<'_>, fallback: String) -> TokenStream {
    if v.docs.is_empty() {
        quote!(#[doc = #fallback])
    } else {
        let docs = &v.docs;
        quote!(#(#docs)*)
    }
}

/// `.field("key", name)?` for each field, in declaration order: the chain
/// both `DataEncoder` and `DataWriter` take.
fn field_calls(fields: &[Field<'_>]) -> Vec<TokenStream> {
    fields
        .iter()
        .map(|f| {
            let name = f.ident;
            let key = &f.key;
            quote!(.field(#key, #name)?)
        })
        .collect()
}

/// The `RexMessage` / `RexEvent` impl.
fn expand_codec(e: &Enum<'_>) -> TokenStream {
    let ident = e.ident;
    let trait_path = trait_path(e.role);
    let kinds = e.variants.iter().map(|v| &v.kind);
    let kind_arms = e.variants.iter().map(|v| {
        let variant = v.ident;
        let kind = &v.kind;
        let pattern = match v.shape {
            Shape::Unit => quote!(#ident::#variant),
            Shape::Newtype(_) => quote!(#ident::#variant(..)),
            Shape::Struct(_) => quote!(#ident::#variant { .. }),
        };
        quote!(#pattern => #kind,)
    });
    let encode_arms = e.variants.iter().map(|v| {
        let variant = v.ident;
        let kind = &v.kind;
        match &v.shape {
            Shape::Unit => quote! {
                #ident::#variant => ::core::result::Result::Ok(::core::option::Option::None),
            },
            Shape::Newtype(_) => quote! {
                #ident::#variant(value) => ::core::result::Result::Ok(::core::option::Option::Some(
                    ::rex::__private::EncodeError::encode(#kind, value)?,
                )),
            },
            Shape::Struct(fields) => {
                let names = fields.iter().map(|f| f.ident);
                let adds = field_calls(fields);
                quote! {
                    #ident::#variant { #(#names),* } => ::core::result::Result::Ok(
                        ::core::option::Option::Some(
                            ::rex::__private::DataEncoder::new(#kind) #(#adds)* .finish(),
                        ),
                    ),
                }
            }
        }
    });
    let write_arms = e.variants.iter().map(|v| {
        let variant = v.ident;
        let kind = &v.kind;
        match &v.shape {
            Shape::Unit => quote! {
                #ident::#variant => ::core::result::Result::Ok(false),
            },
            Shape::Newtype(_) => quote! {
                #ident::#variant(value) => {
                    ::rex::__private::EncodeError::write(#kind, value, out)?;
                    ::core::result::Result::Ok(true)
                }
            },
            Shape::Struct(fields) => {
                let names = fields.iter().map(|f| f.ident);
                let adds = field_calls(fields);
                quote! {
                    #ident::#variant { #(#names),* } => ::core::result::Result::Ok(
                        ::rex::__private::DataWriter::new(#kind, out) #(#adds)* .finish(),
                    ),
                }
            }
        }
    });
    let decode_arms = e.variants.iter().map(|v| {
        let variant = v.ident;
        let kind = &v.kind;
        let body = match &v.shape {
            Shape::Unit => quote! {
                ::rex::__private::DataObject::expect_none(kind, data)?;
                ::core::result::Result::Ok(#ident::#variant)
            },
            Shape::Newtype(_) => quote! {
                ::core::result::Result::Ok(#ident::#variant(
                    ::rex::__private::DataObject::decode_value(kind, data)?,
                ))
            },
            Shape::Struct(fields) => {
                let takes = fields.iter().map(|f| {
                    let name = f.ident;
                    let key = &f.key;
                    quote!(#name: fields.field(#key)?,)
                });
                // Messages refuse unknown fields so a misspelt one is
                // reported; events ignore them so a newer server can add
                // fields without breaking older clients.
                let finish = match e.role {
                    Role::Message => {
                        let keys = fields.iter().map(|f| &f.key);
                        quote!(fields.deny_unknown(&[#(#keys),*])?;)
                    }
                    Role::Event => quote!(),
                };
                quote! {
                    let mut fields = ::rex::__private::DataObject::new(kind, data)?;
                    let value = #ident::#variant { #(#takes)* };
                    #finish
                    ::core::result::Result::Ok(value)
                }
            }
        };
        quote!(#kind => { #body })
    });
    // Messages are decoded straight from the request's text: each kind's
    // fields into a struct serde derives, with `decode` (through a `Value`,
    // with errors that name the field) only when that fails.
    let decode_json = match e.role {
        Role::Event => quote!(),
        Role::Message => {
            let fast_arms = e.variants.iter().map(|v| {
                let variant = v.ident;
                let kind = &v.kind;
                match &v.shape {
                    Shape::Unit => quote! {
                        #kind if data.is_none() => ::core::option::Option::Some(#ident::#variant),
                    },
                    Shape::Newtype(ty) => quote! {
                        #kind => data
                            .and_then(|text| ::rex::__private::serde_json::from_str::<#ty>(text).ok())
                            .map(#ident::#variant),
                    },
                    Shape::Struct(fields) => {
                        let names: Vec<_> = fields.iter().map(|f| f.ident).collect();
                        let decls = fields.iter().map(|f| {
                            let name = f.ident;
                            let key = &f.key;
                            let ty = f.ty;
                            quote!(#[serde(rename = #key)] #name: #ty,)
                        });
                        quote! {
                            #kind => {
                                #[derive(::rex::__private::serde::Deserialize)]
                                #[serde(crate = "::rex::__private::serde", deny_unknown_fields)]
                                struct __RexFields { #(#decls)* }
                                data.and_then(|text| ::rex::__private::serde_json::from_str::<__RexFields>(text).ok())
                                    .map(|__RexFields { #(#names),* }| #ident::#variant { #(#names),* })
                            }
                        }
                    }
                }
            });
            quote! {
                fn decode_json(
                    kind: &str,
                    data: ::core::option::Option<&str>,
                ) -> ::core::result::Result<Self, ::rex::__private::DecodeError> {
                    let fast: ::core::option::Option<Self> = match kind {
                        #(#fast_arms)*
                        _ => ::core::option::Option::None,
                    };
                    match fast {
                        ::core::option::Option::Some(message) => ::core::result::Result::Ok(message),
                        ::core::option::Option::None => <Self as #trait_path>::decode(
                            kind,
                            ::rex::__private::DataObject::parse(kind, data)?,
                        ),
                    }
                }
            }
        }
    };
    // `match self {}` does not type-check on a reference to an empty enum
    // (references are always inhabited); `match *self {}` does.
    let scrutinee = if e.variants.is_empty() {
        quote!(*self)
    } else {
        quote!(self)
    };
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #trait_path for #ident {
                const KINDS: &'static [&'static str] = &[#(#kinds),*];

                fn kind(&self) -> &'static str {
                    match #scrutinee {
                        #(#kind_arms)*
                    }
                }

                fn encode_data(
                    &self,
                ) -> ::core::result::Result<
                    ::core::option::Option<::rex::__private::Value>,
                    ::rex::__private::EncodeError,
                > {
                    match #scrutinee {
                        #(#encode_arms)*
                    }
                }

                fn write_data(
                    &self,
                    out: &mut ::rex::__private::Vec<u8>,
                ) -> ::core::result::Result<bool, ::rex::__private::EncodeError> {
                    // Unused when every kind is a unit.
                    let _ = &out;
                    match #scrutinee {
                        #(#write_arms)*
                    }
                }

                #decode_json

                fn decode(
                    kind: &str,
                    data: ::core::option::Option<::rex::__private::Value>,
                ) -> ::core::result::Result<Self, ::rex::__private::DecodeError> {
                    match kind {
                        #(#decode_arms)*
                        _ => ::core::result::Result::Err(::rex::__private::DecodeError::unknown_kind(
                            kind,
                            <Self as #trait_path>::KINDS,
                        )),
                    }
                }
            }
        };
    }
}

/// The `Protocol` impl: the app id and the event enum the attribute names.
fn expand_protocol(e: &Enum<'_>) -> TokenStream {
    let ident = e.ident;
    // `valid` made sure both are there.
    let (Some(app), Some(events)) = (&e.app, &e.events) else {
        return TokenStream::new();
    };
    let schema = e.schema.map(|_| {
        let snapshot = match &e.snapshot {
            Some(ty) => quote! {
                fn snapshot(
                    generator: &mut ::rex::__private::schemars::SchemaGenerator,
                ) -> ::rex::__private::schemars::Schema {
                    generator.subschema_for::<#ty>()
                }
                ::core::option::Option::Some(snapshot as ::rex::__private::SnapshotSchema)
            },
            None => quote!(::core::option::Option::None),
        };
        quote! {
            ::rex::__private::if_schema! {
                fn schema() -> ::core::option::Option<::rex::__private::ProtocolSchema> {
                    let snapshot = { #snapshot };
                    ::core::option::Option::Some(
                        ::rex::__private::ProtocolSchema::generate::<Self>(snapshot),
                    )
                }
            }
        }
    });
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::rex::__private::Protocol for #ident {
                const APP: &'static str = #app;
                type Event = #events;
                #schema
            }
        };
    }
}

/// `#[rex(schema)]`: the `Describe` impl, each kind with the JSON Schema of
/// its data. A struct variant's schema is schemars' derive on a private
/// mirror struct of its fields, so field types, `Option` fields (not
/// required) and doc comments follow schemars' rules, not ours.
fn expand_describe(e: &Enum<'_>) -> TokenStream {
    if e.schema.is_none() {
        return TokenStream::new();
    }
    let ident = e.ident;
    let schemars = quote!(::rex::__private::schemars);
    let mut mirrors = Vec::new();
    let kinds = e.variants.iter().map(|v| {
        let kind = &v.kind;
        let doc = v.doc_text();
        match &v.shape {
            Shape::Unit => quote!(::rex::__private::KindSchema::unit(#kind, #doc)),
            Shape::Newtype(ty) => quote! {
                ::rex::__private::KindSchema::new(#kind, #doc, generator.subschema_for::<#ty>())
            },
            Shape::Struct(fields) => {
                let mirror = format_ident!("__RexData{}", v.ident);
                let fields = fields.iter().map(|f| {
                    let (name, ty) = (f.ident, f.ty);
                    let doc = (!f.doc.is_empty()).then(|| {
                        let doc = &f.doc;
                        quote!(#[schemars(description = #doc)])
                    });
                    quote!(#doc #name: #ty)
                });
                // Messages refuse unknown fields, events ignore them: as
                // their decoders do.
                let deny = (e.role == Role::Message).then(|| quote!(#[schemars(deny_unknown_fields)]));
                let description = (!doc.is_empty()).then(|| quote!(#[schemars(description = #doc)]));
                let crate_path = schemars.to_string().replace(' ', "");
                mirrors.push(quote! {
                    #[derive(#schemars::JsonSchema)]
                    #[schemars(crate = #crate_path, inline)]
                    #deny
                    #description
                    #[allow(dead_code, non_camel_case_types)]
                    struct #mirror { #(#fields),* }
                });
                quote! {
                    ::rex::__private::KindSchema::new(#kind, #doc, generator.subschema_for::<#mirror>())
                }
            }
        }
    });
    let kinds: Vec<TokenStream> = kinds.collect();
    let count = kinds.len();
    quote! {
        ::rex::__private::with_schema! {
            const _: () = {
                #[automatically_derived]
                impl ::rex::__private::Describe for #ident {
                    fn describe(
                        generator: &mut #schemars::SchemaGenerator,
                    ) -> ::rex::__private::Vec<::rex::__private::KindSchema> {
                        // schemars' derive (on the mirrors) calls trait
                        // methods by name; bring the traits into scope,
                        // nameless, so it works in a module without the
                        // prelude and shadows nothing of the user's.
                        #[allow(unused_imports)]
                        use ::core::convert::Into as _;
                        #(#mirrors)*
                        <::rex::__private::Vec<::rex::__private::KindSchema>
                            as ::core::convert::From<[::rex::__private::KindSchema; #count]>>::from([#(#kinds),*])
                    }
                }
            };
        }
    }
}

/// `{Enum}Handler`: one method per message kind, and the `Dispatch` impl
/// that routes each message to its method for every app implementing it.
fn expand_message_handler(e: &Enum<'_>) -> TokenStream {
    let ident = e.ident;
    let vis = e.vis;
    let trait_ident = format_ident!("{}Handler", ident);
    let trait_doc = format!(
        "Handles [`{ident}`] messages on the server, one method per kind.\n\n\
         Implement it for an app whose `RexApp::Protocol` is `{ident}`: the server \
         routes every message to the method of its kind. Each method gets the \
         session that sent the message; return `Err(Reject::new(\"…\"))` to refuse it."
    );
    let methods = e.variants.iter().map(|v| {
        let method = method_ident(v);
        let docs = docs_or(v, format!("Handles [`{ident}::{}`].", v.ident));
        let params = match &v.shape {
            Shape::Unit => quote!(),
            Shape::Newtype(ty) => quote!(, value: #ty),
            Shape::Struct(fields) => {
                let params = fields.iter().map(|f| {
                    let (name, ty) = (f.ident, f.ty);
                    quote!(, #name: #ty)
                });
                quote!(#(#params)*)
            }
        };
        quote! {
            #docs
            #[allow(clippy::too_many_arguments)]
            fn #method(
                &mut self,
                cx: &mut ::rex::__private::Context<'_, Self>,
                from: ::rex::__private::SessionId
                #params
            ) -> ::core::result::Result<(), ::rex::__private::Reject>;
        }
    });
    let app = Ident::new("__RexApp", Span::call_site());
    let arms = e.variants.iter().map(|v| {
        let variant = v.ident;
        let method = method_ident(v);
        let call = quote!(<#app as #trait_ident>::#method);
        match &v.shape {
            Shape::Unit => quote! {
                #ident::#variant => #call(app, cx, from),
            },
            Shape::Newtype(_) => quote! {
                #ident::#variant(value) => #call(app, cx, from, value),
            },
            Shape::Struct(fields) => {
                let names: Vec<_> = fields.iter().map(|f| f.ident).collect();
                quote! {
                    #ident::#variant { #(#names),* } => #call(app, cx, from, #(#names),*),
                }
            }
        }
    });
    // `match self {}` on an empty enum is fine by value.
    quote! {
        #[doc = #trait_doc]
        // A private protocol enum need not use every generated trait.
        #[allow(dead_code)]
        #vis trait #trait_ident: ::rex::__private::RexApp<Protocol = #ident> {
            #(#methods)*
        }

        #[automatically_derived]
        impl<#app: #trait_ident> ::rex::__private::Dispatch<#app> for #ident {
            fn dispatch(
                self,
                app: &mut #app,
                cx: &mut ::rex::__private::Context<'_, #app>,
                from: ::rex::__private::SessionId,
            ) -> ::core::result::Result<(), ::rex::__private::Reject> {
                match self {
                    #(#arms)*
                }
            }
        }
    }
}

/// `{Enum}Client`: the generic client of this protocol, wrapped in a type
/// whose only methods are one sending stub per message kind (so no kind can
/// be shadowed by a generic method); the rest through `Deref`.
fn expand_client(e: &Enum<'_>) -> TokenStream {
    let ident = e.ident;
    let vis = e.vis;
    let client_ident = format_ident!("{}Client", ident);
    let client = quote!(::rex::__private::Client<#ident>);
    let struct_doc = format!(
        "A client of the [`{ident}`] protocol with one sending method per message kind.\n\n\
         Each method sends its message and waits until the app has handled it, \
         retrying on network failures without the app handling it twice; it \
         returns the `Receipt`, or the app's refusal as `ClientError::Rejected`. \
         Everything else of `rex::Client<{ident}>` (events, snapshots, the session) \
         is reachable through `Deref`. Build one with `{client_ident}::builder(url)` \
         or `{client_ident}::connect(url)` (also `rex::TypedClient` methods)."
    );
    let future = quote! {
        impl ::core::future::Future<
            Output = ::core::result::Result<::rex::__private::Receipt, ::rex::__private::ClientError>,
        > + ::core::marker::Send + '_
    };
    let stubs = e.variants.iter().map(|v| {
        let method = method_ident(v);
        let docs = docs_or(v, format!("Sends [`{ident}::{}`].", v.ident));
        let variant = v.ident;
        let (params, value) = match &v.shape {
            Shape::Unit => (quote!(), quote!(#ident::#variant)),
            Shape::Newtype(ty) => (
                quote!(, value: impl ::core::convert::Into<#ty>),
                quote!(#ident::#variant(::core::convert::Into::into(value))),
            ),
            Shape::Struct(fields) => {
                let params = fields.iter().map(|f| {
                    let (name, ty) = (f.ident, f.ty);
                    quote!(, #name: impl ::core::convert::Into<#ty>)
                });
                let inits = fields.iter().map(|f| {
                    let name = f.ident;
                    quote!(#name: ::core::convert::Into::into(#name))
                });
                (
                    quote!(#(#params)*),
                    quote!(#ident::#variant { #(#inits),* }),
                )
            }
        };
        quote! {
            #docs
            #[allow(clippy::too_many_arguments)]
            #vis fn #method(&self #params) -> #future {
                <#client>::send(&self.client, &#value)
            }
        }
    });
    // `builder` and `connect` as inherent functions too, for the common
    // case; a kind that takes one of those names keeps it, and the
    // `TypedClient` functions remain.
    let taken = |name: &str| e.variants.iter().any(|v| v.method == name);
    let builder = (!taken("builder")).then(|| {
        quote! {
            /// Starts configuring a client for the server at `endpoint` (a
            /// URL such as `"http://192.168.1.20:7700"`, a room found by
            /// discovery, or a socket address).
            #vis fn builder(
                endpoint: impl ::rex::__private::IntoEndpoint,
            ) -> ::rex::__private::ClientBuilder<Self> {
                <Self as ::rex::__private::TypedClient>::builder(endpoint)
            }
        }
    });
    let connect = (!taken("connect")).then(|| {
        quote! {
            /// Connects to the server at `endpoint` with a new session with
            /// no name and the default settings.
            #vis async fn connect(
                endpoint: impl ::rex::__private::IntoEndpoint,
            ) -> ::core::result::Result<Self, ::rex::__private::ClientError> {
                <Self as ::rex::__private::TypedClient>::builder(endpoint).connect().await
            }
        }
    });
    quote! {
        #[doc = #struct_doc]
        // A private protocol enum need not use every generated item.
        #[allow(dead_code)]
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        #vis struct #client_ident {
            client: #client,
        }

        #[allow(dead_code)]
        impl #client_ident {
            #builder
            #connect
            #(#stubs)*
        }

        #[automatically_derived]
        impl ::rex::__private::TypedClient for #client_ident {
            type Protocol = #ident;

            fn from_client(client: #client) -> Self {
                #client_ident { client }
            }

            fn client(&self) -> &#client {
                &self.client
            }
        }

        #[automatically_derived]
        impl ::core::ops::Deref for #client_ident {
            type Target = #client;

            fn deref(&self) -> &#client {
                &self.client
            }
        }
    }
}

/// `{Enum}Handler` for events: a default no-op method per kind, and
/// `handle` to route stream items.
fn expand_event_handler(e: &Enum<'_>) -> TokenStream {
    let ident = e.ident;
    let vis = e.vis;
    let trait_ident = format_ident!("{}Handler", ident);
    let trait_doc = format!(
        "Handles [`{ident}`] events on the client, one method per kind.\n\n\
         Every method does nothing by default: override the ones your UI shows, \
         and feed each item of an `EventStream<{ident}>` to `handle`."
    );
    let methods = e.variants.iter().map(|v| {
        let method = method_ident(v);
        let docs = docs_or(v, format!("Handles [`{ident}::{}`].", v.ident));
        let (params, names) = match &v.shape {
            Shape::Unit => (quote!(), quote!()),
            Shape::Newtype(ty) => (quote!(, value: #ty), quote!(, value)),
            Shape::Struct(fields) => {
                let params = fields.iter().map(|f| {
                    let (name, ty) = (f.ident, f.ty);
                    quote!(, #name: #ty)
                });
                let names = fields.iter().map(|f| f.ident);
                (quote!(#(#params)*), quote!(#(, #names)*))
            }
        };
        quote! {
            #docs
            #[allow(clippy::too_many_arguments)]
            fn #method(&mut self, meta: &::rex::__private::EventMeta #params) {
                let _ = (meta #names);
            }
        }
    });
    let arms = e.variants.iter().map(|v| {
        let variant = v.ident;
        let method = method_ident(v);
        match &v.shape {
            Shape::Unit => quote!(#ident::#variant => <Self as #trait_ident>::#method(self, meta),),
            Shape::Newtype(_) => quote! {
                #ident::#variant(value) => <Self as #trait_ident>::#method(self, meta, value),
            },
            Shape::Struct(fields) => {
                let names: Vec<_> = fields.iter().map(|f| f.ident).collect();
                quote! {
                    #ident::#variant { #(#names),* } => <Self as #trait_ident>::#method(self, meta, #(#names),*),
                }
            }
        }
    });
    quote! {
        #[doc = #trait_doc]
        // A private protocol enum need not use every generated trait.
        #[allow(dead_code)]
        #vis trait #trait_ident {
            #(#methods)*

            /// An event of a kind this client does not know (a newer server).
            fn unknown(
                &mut self,
                meta: &::rex::__private::EventMeta,
                kind: &str,
                data: ::core::option::Option<&::rex::__private::Value>,
            ) {
                let _ = (meta, kind, data);
            }

            /// The stream skipped to the server's head (a restart, or events
            /// dropped by retention): refetch what you show.
            fn resync(&mut self, resync: &::rex::__private::Resync) {
                let _ = resync;
            }

            /// The stream's connection opened or was lost (it reconnects by
            /// itself): show it if you like.
            fn connection(&mut self, state: &::rex::__private::Connection) {
                let _ = state;
            }

            /// Routes one item of an event stream to the method of its kind.
            fn handle(&mut self, item: ::rex::__private::StreamItem<#ident>) {
                match item {
                    ::rex::__private::StreamItem::Event(event) => {
                        let meta = &event.meta;
                        match event.event {
                            #(#arms)*
                        }
                    }
                    ::rex::__private::StreamItem::Unknown { meta, kind, data } => {
                        <Self as #trait_ident>::unknown(self, &meta, &kind, data.as_ref());
                    }
                    ::rex::__private::StreamItem::Resync(resync) => {
                        <Self as #trait_ident>::resync(self, &resync);
                    }
                    ::rex::__private::StreamItem::Connection(state) => {
                        <Self as #trait_ident>::connection(self, &state);
                    }
                }
            }
        }
    }
}
