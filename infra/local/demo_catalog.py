"""The demo catalog loaded by `make run` (and by the catalog tests); local only, never in the function zip.

Idempotent: product ids, SKU ids, stock and pictures are all derived from the data, so seeding twice
writes the same items and objects again. Pictures are drawn with Pillow, uploaded to the photo bucket
under `catalog/<product_id>/<n>.jpg`, and their dHashes stored in the image-hash index.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor

from chalicelib import aws, config
from chalicelib.catalog import imagehash
from chalicelib.catalog.links import ID_SPACE, canonical_url
from chalicelib.logs import get_logger
from infra.local import demo_catalog_data as demo_data
from infra.local import demo_pictures as images

log = get_logger("catalog.demo")

IMAGES_PER_PRODUCT = 2
IMAGE_PREFIX = "catalog/"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def product_id_for(source: str, item_id: str) -> str:
    """A stable, opaque id for a platform item (so re-seeding and re-importing hit the same item)."""
    token = base64.b32encode(_digest(f"product:{ID_SPACE[source]}#{item_id}")[:15]).decode().lower()
    return f"prd_{token}"


def sku_id_for(product_id: str, props: dict[str, str]) -> str:
    text = json.dumps(props, sort_keys=True, ensure_ascii=False)
    token = base64.b32encode(_digest(f"sku:{product_id}:{text}")[:10]).decode().lower()
    return f"sku_{token}"


def image_key(product_id: str, n: int) -> str:
    return f"{IMAGE_PREFIX}{product_id}/{n}.jpg"


def _stock(sku_id: str, first: bool) -> int:
    value = int.from_bytes(_digest(sku_id)[:2], "big")
    if not first and value % 11 == 0:
        return 0  # a few sold-out variants, as on the real platforms
    return 20 + value % 480


def build_skus(product_id: str, spec: dict) -> list[dict]:
    names = list(spec["options"])
    surcharges = spec.get("surcharge_fen", {})
    skus = []
    for index, values in enumerate(itertools.product(*(spec["options"][n] for n in names))):
        props = dict(zip(names, values, strict=True))
        sku_id = sku_id_for(product_id, props)
        skus.append(
            {
                "sku_id": sku_id,
                "props": props,
                "price_fen": spec["price_fen"] + sum(surcharges.get(v, 0) for v in values),
                "stock": _stock(sku_id, index == 0),
            }
        )
    return skus


@functools.lru_cache(maxsize=256)
def picture(product_id: str, n: int, category: str, caption: str) -> bytes:
    """The n-th demo picture of a product (JPEG bytes; cached: tests seed many times)."""
    return images.render(f"{product_id}/{n}", category, caption)


@functools.lru_cache(maxsize=256)
def picture_hash(product_id: str, n: int, category: str, caption: str) -> int:
    return imagehash.dhash(picture(product_id, n, category, caption))


def products() -> list[dict]:
    """The demo products as records ready for the products table (plus their picture specs)."""
    records = []
    for spec in demo_data.PRODUCTS:
        shop_id, shop_name, source, shipping_fen = demo_data.SHOPS[spec["shop"]]
        product_id = product_id_for(source, spec["item_id"])
        records.append(
            {
                "product_id": product_id,
                "source": source,
                "source_item_id": spec["item_id"],
                "source_url": canonical_url(source, spec["item_id"]),
                "title": spec["title"],
                "title_zh": spec.get("title_zh"),
                "category": spec["category"],
                "images": [image_key(product_id, n) for n in range(IMAGES_PER_PRODUCT)],
                "shop_id": shop_id,
                "shop_name": shop_name,
                "skus": build_skus(product_id, spec),
                "min_quantity": spec.get("min_quantity", 1),
                "domestic_shipping_fen": shipping_fen,
                "weight_g": spec["weight_g"],
                "attributes": list(spec.get("attributes", [])),
                "featured_rank": spec.get("featured"),
            }
        )
    return records


def _upload(bucket: str, key: str, body: bytes) -> None:
    aws.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="image/jpeg",
        CacheControl="public, max-age=86400",
    )


def public_read_statement(bucket: str) -> dict:
    """Anyone may GET catalog pictures (and nothing else in the bucket: inspection photos stay private)."""
    return {
        "Sid": "PublicCatalogImages",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/{IMAGE_PREFIX}*",
    }


def ensure_public_catalog_prefix(bucket: str) -> None:
    """Merge the public-read statement for `catalog/*` into the bucket policy (idempotent).

    Locally this is what lets a browser load image URLs straight from moto. In AWS the same statement
    (or a CloudFront origin access control for the prefix) belongs to the infrastructure template.
    """
    s3 = aws.client("s3")
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucketPolicy":
            raise
        policy = {"Version": "2012-10-17", "Statement": []}
    statement = public_read_statement(bucket)
    others = [s for s in policy.get("Statement", []) if s.get("Sid") != statement["Sid"]]
    if [statement] == [s for s in policy.get("Statement", []) if s.get("Sid") == statement["Sid"]]:
        return
    policy["Statement"] = [*others, statement]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def seed(stack: dict) -> None:
    """Load the demo catalog (products, keyword index, images in the photo bucket)."""
    from chalicelib.catalog.dynamo_source import FEATURED_GROUP, DynamoProductSource
    from chalicelib.models.catalog import ProductModel, SkuAttribute

    started = time.monotonic()
    bucket = stack.get("bucket") or config.get("PHOTO_BUCKET")
    store = DynamoProductSource()
    records = products()
    uploads = []
    hashes: dict[str, list[int]] = {}
    for record in records:
        pictures = []
        for n, key in enumerate(record["images"]):
            caption = record["title"] if n == 0 else f"{record['title']} (detail)"
            args = (record["product_id"], n, record["category"], caption)
            uploads.append((key, picture(*args)))
            pictures.append(picture_hash(*args))
        hashes[record["product_id"]] = pictures

    ensure_public_catalog_prefix(bucket)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda kv: _upload(bucket, *kv), uploads))

    items = []
    for record in records:
        rank = record.pop("featured_rank")
        skus = [SkuAttribute(**s) for s in record.pop("skus")]
        items.append(
            ProductModel(
                skus=skus,
                featured_group=FEATURED_GROUP if rank is not None else None,
                featured_rank=rank,
                price_fen=min(s.price_fen for s in skus),
                source_ref="",  # put_products sets it
                **record,
            )
        )
    store.put_products(items)
    store.write_image_index(hashes)
    log.info(
        "demo catalog seeded",
        extra={
            "products": len(records),
            "images": len(uploads),
            "seconds": round(time.monotonic() - started, 2),
        },
    )
