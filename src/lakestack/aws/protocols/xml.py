"""Shape-driven XML encoding and decoding (query responses, rest-xml bodies)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from lakestack.aws.protocols.values import parse_scalar, scalar_text


def serialized_name(shape, default: str) -> str:
    return shape.serialization.get("name", default)


def encode_members(shape, value: dict, out: list[str], timestamp_format: str = "iso8601") -> None:
    """Append the XML for each member of a structure value."""
    for name, member in shape.members.items():
        if name not in value or value[name] is None:
            continue
        loc = member.serialization.get("location")
        if loc in ("header", "headers", "statusCode", "querystring", "uri"):
            continue
        if member.serialization.get("xmlAttribute"):
            continue
        encode_value(member, serialized_name(member, name), value[name], out, timestamp_format)


def encode_value(shape, tag: str, value, out: list[str], timestamp_format: str = "iso8601") -> None:
    t = shape.type_name
    if t == "structure":
        attrs = ""
        ns = shape.serialization.get("xmlNamespace")
        for name, member in shape.members.items():
            if member.serialization.get("xmlAttribute") and value.get(name) is not None:
                attrs += f' {serialized_name(member, name)}="{escape(str(value[name]), {chr(34): "&quot;"})}"'
        if ns and isinstance(ns, dict) and ns.get("prefix"):
            attrs += f' xmlns:{ns["prefix"]}="{ns["uri"]}"'
        out.append(f"<{tag}{attrs}>")
        encode_members(shape, value, out, timestamp_format)
        out.append(f"</{tag}>")
    elif t == "list":
        member = shape.member
        if shape.serialization.get("flattened"):
            item_tag = serialized_name(member, tag)
            for item in value:
                encode_value(member, item_tag, item, out, timestamp_format)
        else:
            item_tag = serialized_name(member, "member")
            out.append(f"<{tag}>")
            for item in value:
                encode_value(member, item_tag, item, out, timestamp_format)
            out.append(f"</{tag}>")
    elif t == "map":
        key_tag = serialized_name(shape.key, "key")
        value_tag = serialized_name(shape.value, "value")
        flat = shape.serialization.get("flattened")
        if not flat:
            out.append(f"<{tag}>")
        for k, v in value.items():
            out.append(f"<{tag}>" if flat else "<entry>")
            encode_value(shape.key, key_tag, k, out, timestamp_format)
            encode_value(shape.value, value_tag, v, out, timestamp_format)
            out.append(f"</{tag}>" if flat else "</entry>")
        if not flat:
            out.append(f"</{tag}>")
    else:
        out.append(f"<{tag}>{escape(scalar_text(shape, value, timestamp_format))}</{tag}>")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def decode_structure(shape, element: ET.Element) -> dict:
    result: dict = {}
    children: dict[str, list[ET.Element]] = {}
    for child in element:
        children.setdefault(_local(child.tag), []).append(child)
    for name, member in shape.members.items():
        if member.serialization.get("location"):
            continue
        if member.serialization.get("xmlAttribute"):
            attr = serialized_name(member, name)
            for key, val in element.attrib.items():
                if _local(key) == attr.split(":")[-1]:
                    result[name] = parse_scalar(member, val)
            continue
        tag = serialized_name(member, name)
        if member.type_name == "list" and member.serialization.get("flattened"):
            item_tag = serialized_name(member.member, tag)
            items = children.get(item_tag, [])
            if items:
                result[name] = [decode_value(member.member, item) for item in items]
            continue
        found = children.get(tag)
        if found:
            result[name] = decode_value(member, found[0])
    return result


def decode_value(shape, element: ET.Element):
    t = shape.type_name
    if t == "structure":
        return decode_structure(shape, element)
    if t == "list":
        item_tag = serialized_name(shape.member, "member")
        return [decode_value(shape.member, c) for c in element if _local(c.tag) == item_tag]
    if t == "map":
        key_tag = serialized_name(shape.key, "key")
        value_tag = serialized_name(shape.value, "value")
        out = {}
        for entry in element:
            k = v = None
            for part in entry:
                if _local(part.tag) == key_tag:
                    k = decode_value(shape.key, part)
                elif _local(part.tag) == value_tag:
                    v = decode_value(shape.value, part)
            out[k] = v
        return out
    return parse_scalar(shape, element.text or "")


def parse_document(body: bytes) -> ET.Element:
    return ET.fromstring(body)
