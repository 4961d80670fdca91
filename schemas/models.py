# GENERATED — DO NOT EDIT; run python -m schemas.codegen
"""msgspec models of every event type, generated from the JSON Schemas in ``schemas/definitions/``.

Frozen, slotted Structs: decoding validates types, enums, patterns, lengths and bounds in C. Optional fields
are ``UNSET`` when absent. ``EXTRA_CHECKS`` lists what msgspec cannot express (uniqueItems, minProperties,
real date-times); ``LIFTED`` the ``data`` strings declared plain ``str`` whose patterns are checked together
in one regex (msgspec would call ``re`` once per string); :mod:`schemas.validation` runs both: decode with it.
Do not edit: change the schemas and regenerate.
"""

import datetime
from typing import Annotated, Literal, TypeAlias

import msgspec
from msgspec import UNSET, Meta, UnsetType

__all__ = ["DATA_MODELS", "ENVELOPE_MODELS", "EXTRA_CHECKS", "LIFTED", "UNSET", "Envelope", "EventData", "Model"]


class Model(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True, gc=False):
    """Base of every generated model: immutable, unknown fields rejected, UNSET fields omitted on encode."""


Identifier = Annotated[str, Meta(pattern="^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$(?!\\n)")]

ParticipantId = Annotated[str, Meta(pattern="^[a-z][a-z0-9-]{2,47}$(?!\\n)")]

PositiveKg = Annotated[int, Meta(ge=1, le=100000000000)]

Percent = Annotated[str, Meta(pattern="^(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)$(?!\\n)")]

Date = datetime.date

StationCode = Literal[
    "XWV",
    "DYV",
    "NCV",
    "ZHV",
    "QVV",
    "XDV",
    "DPF",
    "CBF",
    "CZF",
    "GPF",
    "JCF",
    "YBF",
    "JOF",
    "XXF",
    "RZK",
    "TYV",
    "YCV",
]

Note = Annotated[str, Meta(min_length=1, max_length=500)]

ProductCode = Literal[
    "WY-ZK",
    "WY-XK",
    "WY-MM",
    "WY-PCI",
    "PS-PCI",
    "PS-DL",
    "PM-DL",
    "SM-LJ",
    "JM-LJ",
    "CY-DL",
    "HM-DL",
]

CoalClass = Literal["WY", "PM", "PS", "SM", "JM", "FM", "1/3JM", "QF", "QM", "1/2ZN", "RN", "BN", "CY", "HM"]

MineId = Literal[
    "luan-wangzhuang",
    "luan-changcun",
    "luan-wuyang",
    "luan-zhangcun",
    "jc-sihe",
    "jc-chengzhuang",
    "jc-zhaozhuang",
    "jc-fenghuangshan",
    "jc-gushuyuan",
]

NonNegativeKg = Annotated[int, Meta(ge=0, le=100000000000)]

WagonType = Literal["C70", "C80"]

KeyId = Annotated[str, Meta(pattern="^[0-9a-f]{64}$(?!\\n)")]

Time = Annotated[
    str,
    Meta(
        pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{3}|\\.[0-9]{6})?Z$(?!\\n)",
    ),
]

PublicKey = Annotated[str, Meta(pattern="^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$(?!\\n)")]

Role = Literal["mine", "railway", "carrier", "buyer", "admin"]

SpecVersion = Literal["1.0"]

EventId = Annotated[
    str,
    Meta(
        pattern="^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$(?!\\n)",
    ),
]

Source = Annotated[str, Meta(pattern="^/participants/[a-z][a-z0-9-]{2,47}$(?!\\n)")]

Subject = Annotated[str, Meta(pattern="^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$(?!\\n)")]

DataContentType = Literal["application/json"]

Signature = Annotated[str, Meta(pattern="^[A-Za-z0-9+/]{85}[AQgw]==$(?!\\n)")]


class IntRange(Model, frozen=True, kw_only=True):
    """整数范围 Integer range

    Inclusive bounds; at least one of min and max; min ≤ max.
    """
    #: 上限 Maximum
    max: Annotated[int, Meta(ge=0, le=100000)] | UnsetType = UNSET
    #: 下限 Minimum
    min: Annotated[int, Meta(ge=0, le=100000)] | UnsetType = UNSET


class PercentRange(Model, frozen=True, kw_only=True):
    """百分数范围 Percentage range

    Inclusive bounds as two-decimal strings; at least one of min and max; min ≤ max.
    """
    #: 上限 Maximum (%)
    max: str | UnsetType = UNSET
    #: 下限 Minimum (%)
    min: str | UnsetType = UNSET


class QualityRequirement(Model, frozen=True, kw_only=True):
    """质量要求 Quality requirement

    What a buyer asks for or a mine offers, as ranges over GB/T 483 symbols; at least one.
    """
    #: 干燥基灰分 Ad (%)
    ad_pct: PercentRange | UnsetType = UNSET
    #: 粘结指数 G
    g_index: IntRange | UnsetType = UNSET
    #: 哈氏可磨性指数 HGI
    hgi: IntRange | UnsetType = UNSET
    #: 全水分 Mt (%)
    mt_pct: PercentRange | UnsetType = UNSET
    #: 收到基低位发热量 Qnet,ar (kcal/kg)
    qnet_ar_kcal_per_kg: IntRange | UnsetType = UNSET
    #: 粒度 Size (mm)
    size_mm: IntRange | UnsetType = UNSET
    #: 干燥基全硫 St,d (%)
    st_d_pct: PercentRange | UnsetType = UNSET
    #: 干燥无灰基挥发分 Vdaf (%)
    vdaf_pct: PercentRange | UnsetType = UNSET


class DemandChanges(Model, frozen=True, kw_only=True):
    """变更内容 Changes

    At least one field; each replaces the posted value.
    """
    #: 交货期止 Delivery window end
    delivery_end_date: Date | UnsetType = UNSET
    #: 交货期起 Delivery window start
    delivery_start_date: Date | UnsetType = UNSET
    #: 到站 Destination station
    destination_station: StationCode | UnsetType = UNSET
    #: 最高到站价 Price ceiling (CNY per tonne, delivered)
    max_price_cny_per_t: Annotated[int, Meta(ge=1, le=100000)] | UnsetType = UNSET
    #: 质量要求 Quality requirement
    quality: QualityRequirement | UnsetType = UNSET
    #: 需求量 Quantity (kg)
    quantity_kg: PositiveKg | UnsetType = UNSET


class DemandAmendedV1(Model, frozen=True, kw_only=True):
    """需求变更 DemandAmended data"""
    #: 买方 Buyer
    buyer_id: str
    #: 变更内容 Changes
    changes: DemandChanges
    #: 需求单号 Order id
    order_id: str
    #: 变更原因 Reason
    reason: Note | UnsetType = UNSET


class DemandPostedV1(Model, frozen=True, kw_only=True):
    """需求发布 DemandPosted data"""
    #: 买方 Buyer
    buyer_id: str
    #: 煤类 Coal class
    coal_class: CoalClass | UnsetType = UNSET
    #: 交货期止 Delivery window end
    delivery_end_date: Date
    #: 交货期起 Delivery window start
    delivery_start_date: Date
    #: 到站 Destination station
    destination_station: StationCode
    #: 最高到站价 Price ceiling (CNY per tonne, delivered)
    max_price_cny_per_t: Annotated[int, Meta(ge=1, le=100000)] | UnsetType = UNSET
    #: 备注 Note
    note: Note | UnsetType = UNSET
    #: 需求单号 Order id
    order_id: str
    #: 品种 Product
    product: ProductCode
    #: 质量要求 Quality requirement
    quality: QualityRequirement
    #: 需求量 Quantity (kg)
    quantity_kg: PositiveKg
    #: 运输方式 Transport mode
    transport_mode: Literal["rail", "truck"] | UnsetType = UNSET


class DemandWithdrawnV1(Model, frozen=True, kw_only=True):
    """需求撤销 DemandWithdrawn data"""
    #: 买方 Buyer
    buyer_id: str
    #: 备注 Note
    note: Note | UnsetType = UNSET
    #: 需求单号 Order id
    order_id: str
    #: 撤销原因 Reason
    reason_code: Literal["fulfilled", "cancelled", "superseded", "expired", "other"]
    #: 替代需求单号 Replacing order id
    superseded_by_order_id: str | UnsetType = UNSET


class Assay(Model, frozen=True, kw_only=True):
    """化验单 Assay (lab report)

    Quality of a lot as a coal lab reports it, symbols per GB/T 483-2007 (ar as received, ad air-dried, d
    dry, daf dry ash-free). Percentages are two-decimal strings, calorific values integers. Lots breaking
    the 2014 商品煤质量管理暂行办法 limits are flagged as warnings.
    """
    #: 空气干燥基灰分 Aad, ash air-dried (%)
    aad_pct: str | UnsetType = UNSET
    #: 干燥基灰分 Ad, ash dry basis (%)
    ad_pct: str
    #: 化验员 Analyst
    analyst: Annotated[str, Meta(min_length=1, max_length=32)] | UnsetType = UNSET
    #: 化验编号 Assay number
    assay_no: str
    #: 化验日期 Date of the assay
    assayed_on: Date
    #: 粘结指数 G, caking index
    g_index: Annotated[int, Meta(ge=0, le=110)] | UnsetType = UNSET
    #: 哈氏可磨性指数 HGI, Hardgrove grindability index
    hgi: Annotated[int, Meta(ge=20, le=150)] | UnsetType = UNSET
    #: 化验室 Laboratory
    lab: Annotated[str, Meta(min_length=1, max_length=64)] | UnsetType = UNSET
    #: 空气干燥基水分 Mad, air-dried moisture (%)
    mad_pct: str | UnsetType = UNSET
    #: 全水分 Mt, total moisture (%)
    mt_pct: str
    #: 干燥基高位发热量 Qgr,d, gross calorific value dry (kJ/kg)
    qgr_d_kj_per_kg: Annotated[int, Meta(ge=5000, le=40000)] | UnsetType = UNSET
    #: 收到基低位发热量 Qnet,ar (kcal/kg)
    qnet_ar_kcal_per_kg: Annotated[int, Meta(ge=1000, le=9000)]
    #: 收到基低位发热量 Qnet,ar (kJ/kg)
    qnet_ar_kj_per_kg: Annotated[int, Meta(ge=4000, le=40000)] | UnsetType = UNSET
    #: 审核人 Reviewer
    reviewer: Annotated[str, Meta(min_length=1, max_length=32)] | UnsetType = UNSET
    #: 空气干燥基全硫 St,ad, total sulphur air-dried (%)
    st_ad_pct: str | UnsetType = UNSET
    #: 干燥基全硫 St,d, total sulphur dry basis (%)
    st_d_pct: str
    #: 空气干燥基挥发分 Vad, volatile matter air-dried (%)
    vad_pct: str | UnsetType = UNSET
    #: 干燥无灰基挥发分 Vdaf, volatile matter dry ash-free (%)
    vdaf_pct: str


class LotAssayedV1(Model, frozen=True, kw_only=True):
    """批次化验 LotAssayed data"""
    #: 化验单 Assay
    assay: Assay
    #: 煤类 Coal class found by the lab
    coal_class: CoalClass
    #: 批次号 Lot id
    lot_id: str
    #: 矿井 Mine
    mine_id: MineId
    #: 品种 Product
    product: ProductCode
    #: 批次量 Lot size (kg)
    quantity_kg: PositiveKg
    #: 发站 Railhead station
    station: StationCode


class StockReportedV1(Model, frozen=True, kw_only=True):
    """库存报告 StockReported data"""
    #: 化验单 Assay
    assay: Assay
    #: 批次号 Lot id
    lot_id: str
    #: 矿井 Mine
    mine_id: MineId
    #: 品种 Product
    product: ProductCode
    #: 库存量 Quantity on hand (kg)
    quantity_kg: NonNegativeKg
    #: 发站 Railhead station
    station: StationCode
    #: 货位 Stockpile / yard position
    stockpile_id: str | UnsetType = UNSET


class SupplyOfferedV1(Model, frozen=True, kw_only=True):
    """资源供应 SupplyOffered data"""
    #: 供应期起 Available from
    available_from_date: Date
    #: 供应期止 Available until
    available_to_date: Date
    #: 批次号 Lot id
    lot_id: str | UnsetType = UNSET
    #: 矿井 Mine
    mine_id: MineId
    #: 备注 Note
    note: Note | UnsetType = UNSET
    #: 供应单号 Offer id
    offer_id: str
    #: 价格 Price (CNY per tonne, at the railhead)
    price_cny_per_t: Annotated[int, Meta(ge=1, le=100000)] | UnsetType = UNSET
    #: 品种 Product
    product: ProductCode
    #: 质量 Typical quality
    quality: QualityRequirement | UnsetType = UNSET
    #: 可供量 Quantity offered (kg)
    quantity_kg: PositiveKg
    #: 发站 Railhead station
    station: StationCode


class CapacityPublishedV1(Model, frozen=True, kw_only=True):
    """运力公布 CapacityPublished data"""
    #: 方向 Direction
    direction: Literal["down", "up"]
    #: 区段起点 Section start
    from_station: StationCode
    #: 运量能力 Net tonnage (kg per day)
    net_capacity_kg: NonNegativeKg | UnsetType = UNSET
    #: 计划日期 Plan date
    plan_date: Date
    #: 区段终点 Section end
    to_station: StationCode
    #: 列车能力 Trains (per day)
    trains_capacity: Annotated[int, Meta(ge=0, le=500)]
    #: 车辆能力 Wagons (per day)
    wagons_capacity: Annotated[int, Meta(ge=0, le=50000)]


class TrainArrivedV1(Model, frozen=True, kw_only=True):
    """列车到达 TrainArrived data"""
    #: 始发站 Where this train run started
    origin_station: StationCode
    #: 批次列表 Shipments on the train
    shipment_ids: Annotated[tuple[str, ...], Meta(min_length=1, max_length=50)]
    #: 到达站 Arrival station
    station: StationCode
    #: 列车编号 Train run id
    train_id: str
    #: 车次 Train number
    train_no: str
    #: 辆数 Wagons in the train
    wagon_count: Annotated[int, Meta(ge=1, le=300)]


class TrainDepartedV1(Model, frozen=True, kw_only=True):
    """列车出发 TrainDeparted data"""
    #: 终到站 Train destination
    destination_station: StationCode
    #: 总重 Train gross weight (kg)
    gross_weight_kg: PositiveKg | UnsetType = UNSET
    #: 批次列表 Shipments on the train
    shipment_ids: Annotated[tuple[str, ...], Meta(min_length=1, max_length=50)]
    #: 出发站 Departure station
    station: StationCode
    #: 列车编号 Train run id
    train_id: str
    #: 车次 Train number
    train_no: str
    #: 辆数 Wagons in the train
    wagon_count: Annotated[int, Meta(ge=1, le=300)]


class TruckWeighedV1(Model, frozen=True, kw_only=True):
    """过磅 TruckWeighed data"""
    #: 轴数 Axles
    axles: Annotated[int, Meta(ge=2, le=6)]
    #: 方向 Direction
    direction: Literal["inbound", "outbound"]
    #: 司机 Driver
    driver_name: Annotated[str, Meta(min_length=1, max_length=32)] | UnsetType = UNSET
    #: 毛重 Gross weight (kg)
    gross_weight_kg: Annotated[int, Meta(ge=1, le=100000)]
    #: 来源矿井 Mine the coal came from
    mine_id: MineId | UnsetType = UNSET
    #: 净重 Net weight (kg)
    net_weight_kg: Annotated[int, Meta(ge=1, le=100000)]
    #: 需求单号 Order id
    order_id: str | UnsetType = UNSET
    #: 提煤单号 Pick-up order number
    pickup_order_no: str
    #: 车牌号 Plate number
    plate_no: str
    #: 品种 Product
    product: ProductCode
    #: 发运批次号 Shipment the coal is for
    shipment_id: str | UnsetType = UNSET
    #: 磅房 Weighbridge site
    site_name: Annotated[str, Meta(min_length=1, max_length=64)] | UnsetType = UNSET
    #: 站点 Railhead station of the weighbridge
    station: StationCode
    #: 皮重 Tare weight (kg)
    tare_weight_kg: Annotated[int, Meta(ge=1, le=100000)]
    #: 磅单号 Weigh ticket number
    ticket_no: str


class WagonsAllocatedV1(Model, frozen=True, kw_only=True):
    """配车 WagonsAllocated data"""
    #: 需求单号 Order id
    order_id: str
    #: 计划日期 Plan date
    plan_date: Date
    #: 请求车编号 Request id
    request_id: str
    #: 发站 Loading station
    station: StationCode
    #: 车型 Wagon type
    wagon_type: WagonType
    #: 配车数 Wagons allocated
    wagons_allocated: Annotated[int, Meta(ge=0, le=1000)]
    #: 请求车数 Wagons requested
    wagons_requested: Annotated[int, Meta(ge=1, le=1000)]


class LoadedWagon(Model, frozen=True, kw_only=True):
    """装车车辆 Loaded wagon"""
    #: 毛重 Gross weight (kg)
    gross_weight_kg: Annotated[int, Meta(ge=1, le=200000)]
    #: 净重 Net weight (kg)
    net_weight_kg: Annotated[int, Meta(ge=1, le=150000)]
    #: 皮重 Tare weight (kg)
    tare_weight_kg: Annotated[int, Meta(ge=1, le=100000)]
    #: 车号 Wagon number
    wagon_no: str
    #: 车型 Wagon type
    wagon_type: WagonType
    #: 货票号 Waybill number (货物运单)
    waybill_no: str


class WagonsLoadedV1(Model, frozen=True, kw_only=True):
    """装车 WagonsLoaded data"""
    #: 质检单 Quality certificate of the lot
    assay: Assay | UnsetType = UNSET
    #: 收货人 Buyer
    buyer_id: str
    #: 到站 Destination station
    destination_station: StationCode
    #: 批次号 Lot id
    lot_id: str
    #: 发货矿井 Shipper mine
    mine_id: MineId
    #: 需求单号 Order id
    order_id: str
    #: 品种 Product
    product: ProductCode
    #: 请求车编号 Request id
    request_id: str | UnsetType = UNSET
    #: 发运批次号 Shipment id
    shipment_id: str
    #: 发站 Origin station
    station: StationCode
    #: 总净重 Total net weight (kg)
    total_net_weight_kg: PositiveKg
    #: 车辆 Wagons
    wagons: Annotated[tuple[LoadedWagon, ...], Meta(min_length=1, max_length=250)]


class WagonsRequestedV1(Model, frozen=True, kw_only=True):
    """报日请求车 WagonsRequested data"""
    #: 到站 Destination station
    destination_station: StationCode
    #: 发货矿井 Shipper mine
    mine_id: MineId
    #: 需求单号 Order id
    order_id: str
    #: 计划日期 Plan date
    plan_date: Date
    #: 品种 Product
    product: ProductCode
    #: 请求车编号 Request id
    request_id: str
    #: 发站 Loading station
    station: StationCode
    #: 车型 Wagon type
    wagon_type: WagonType
    #: 请求车数 Wagons requested
    wagons_requested: Annotated[int, Meta(ge=1, le=1000)]


class UnloadedWagon(Model, frozen=True, kw_only=True):
    """卸车车辆 Unloaded wagon"""
    #: 到站毛重 Gross weight at arrival (kg)
    gross_weight_kg: Annotated[int, Meta(ge=1, le=200000)] | UnsetType = UNSET
    #: 到站净重 Net weight at arrival (kg)
    net_weight_kg: Annotated[int, Meta(ge=1, le=150000)]
    #: 皮重 Tare weight (kg)
    tare_weight_kg: Annotated[int, Meta(ge=1, le=100000)] | UnsetType = UNSET
    #: 车号 Wagon number
    wagon_no: str


class WagonsUnloadedV1(Model, frozen=True, kw_only=True):
    """卸车 WagonsUnloaded data"""
    #: 需求单号 Order id
    order_id: str
    #: 发运批次号 Shipment id
    shipment_id: str
    #: 专用线 Private siding
    siding: Annotated[str, Meta(min_length=1, max_length=64)] | UnsetType = UNSET
    #: 卸车站 Unloading station
    station: StationCode
    #: 总净重 Total net weight (kg)
    total_net_weight_kg: PositiveKg
    #: 车辆 Wagons
    wagons: Annotated[tuple[UnloadedWagon, ...], Meta(min_length=1, max_length=250)]


class DeliveryConfirmedV1(Model, frozen=True, kw_only=True):
    """到货确认 DeliveryConfirmed data"""
    #: 验收净重 Accepted net weight (kg)
    accepted_net_weight_kg: PositiveKg
    #: 收货化验 Buyer's assay
    assay: Assay | UnsetType = UNSET
    #: 收货人 Buyer
    buyer_id: str
    #: 备注 Note
    note: Note | UnsetType = UNSET
    #: 需求单号 Order id
    order_id: str
    #: 发运批次号 Shipment id
    shipment_id: str
    #: 收货站 Receiving station
    station: StationCode
    #: 辆数 Wagons received
    wagon_count: Annotated[int, Meta(ge=1, le=300)] | UnsetType = UNSET
    #: 票重 Net weight on the waybills (kg)
    waybill_net_weight_kg: PositiveKg | UnsetType = UNSET


class DeliveryDisputedV1(Model, frozen=True, kw_only=True):
    """到货异议 DeliveryDisputed data"""
    #: 认可净重 Net weight the buyer accepts (kg)
    accepted_net_weight_kg: NonNegativeKg
    #: 收货化验 Buyer's assay
    assay: Assay | UnsetType = UNSET
    #: 收货人 Buyer
    buyer_id: str
    #: 实测净重 Net weight measured by the buyer (kg)
    measured_net_weight_kg: NonNegativeKg
    #: 备注 Note
    note: Note | UnsetType = UNSET
    #: 需求单号 Order id
    order_id: str
    #: 异议原因 Reason
    reason_code: Literal[
        "weight_shortfall",
        "quality_below_contract",
        "wrong_product",
        "contamination",
        "wagons_missing",
        "late_delivery",
        "documents_mismatch",
        "other",
    ]
    #: 发运批次号 Shipment id
    shipment_id: str
    #: 收货站 Receiving station
    station: StationCode
    #: 票重 Net weight on the waybills (kg)
    waybill_net_weight_kg: PositiveKg | UnsetType = UNSET


class KeyRevokedV1(Model, frozen=True, kw_only=True):
    """密钥吊销 KeyRevoked data"""
    #: 泄露时间 Compromised since
    compromised_since: Time | UnsetType = UNSET
    #: 密钥编号 Key id
    key_id: str
    #: 参与方编号 Participant id
    participant_id: str
    #: 吊销原因 Reason
    reason_code: Literal["compromised", "superseded", "retired"]


class KeyRotatedV1(Model, frozen=True, kw_only=True):
    """密钥轮换 KeyRotated data"""
    #: 新密钥编号 New key id
    new_key_id: str
    #: 新公钥 New public key
    new_public_key: str
    #: 旧密钥编号 Old key id
    old_key_id: str
    #: 参与方编号 Participant id
    participant_id: str


class ParticipantRegisteredV1(Model, frozen=True, kw_only=True):
    """参与方登记 ParticipantRegistered data"""
    #: 统一社会信用代码 Unified social credit code
    credit_code: str | UnsetType = UNSET
    #: 密钥编号 Key id
    key_id: str
    #: 所属矿井 Mines it reports for
    mines: Annotated[tuple[MineId, ...], Meta(max_length=200)]
    #: 名称 Name
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    #: 英文名称 English name
    name_en: Annotated[str, Meta(min_length=1, max_length=100)] | UnsetType = UNSET
    #: 参与方编号 Participant id
    participant_id: str
    #: 公钥 Public key
    public_key: str
    #: 角色 Roles
    roles: Annotated[tuple[Role, ...], Meta(min_length=1, max_length=5)]
    #: 所属车站/磅房 Stations it publishes for
    stations: Annotated[tuple[StationCode, ...], Meta(max_length=200)]


EventData: TypeAlias = (
    DemandAmendedV1
    | DemandPostedV1
    | DemandWithdrawnV1
    | LotAssayedV1
    | StockReportedV1
    | SupplyOfferedV1
    | CapacityPublishedV1
    | TrainArrivedV1
    | TrainDepartedV1
    | TruckWeighedV1
    | WagonsAllocatedV1
    | WagonsLoadedV1
    | WagonsRequestedV1
    | WagonsUnloadedV1
    | DeliveryConfirmedV1
    | DeliveryDisputedV1
    | KeyRevokedV1
    | KeyRotatedV1
    | ParticipantRegisteredV1
)


class Envelope(Model, frozen=True, kw_only=True):
    """CloudEvents 1.0 信封 Envelope attributes shared by every event type

    Generated from the envelope properties every event schema declares.
    """
    #: 数据 The typed payload (narrowed by each event type's envelope class)
    data: EventData
    #: 数据类型 Data content type
    datacontenttype: DataContentType | UnsetType = UNSET
    #: 数据模式 Data schema (narrowed by each event type's envelope class)
    dataschema: str
    #: 事件编号 Event id
    id: EventId
    #: 签名密钥 Signing key id
    sigkeyid: KeyId
    #: 签名 Signature
    signature: Signature
    #: 发布方 Source
    source: Source
    #: CloudEvents 规范版本 CloudEvents spec version
    specversion: SpecVersion
    #: 主题 Subject
    subject: Subject
    #: 发生时间 Time (UTC)
    time: Time
    #: 事件类型 Event type (narrowed by each event type's envelope class)
    type: str


class DemandAmendedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.demand.DemandAmended.v1."""

    type: Literal["cn.taijiao.coal.demand.DemandAmended.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/demand/DemandAmended/v1.json"]
    data: DemandAmendedV1


class DemandPostedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.demand.DemandPosted.v1."""

    type: Literal["cn.taijiao.coal.demand.DemandPosted.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/demand/DemandPosted/v1.json"]
    data: DemandPostedV1


class DemandWithdrawnV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.demand.DemandWithdrawn.v1."""

    type: Literal["cn.taijiao.coal.demand.DemandWithdrawn.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/demand/DemandWithdrawn/v1.json"]
    data: DemandWithdrawnV1


class LotAssayedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.inventory.LotAssayed.v1."""

    type: Literal["cn.taijiao.coal.inventory.LotAssayed.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/inventory/LotAssayed/v1.json"]
    data: LotAssayedV1


class StockReportedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.inventory.StockReported.v1."""

    type: Literal["cn.taijiao.coal.inventory.StockReported.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/inventory/StockReported/v1.json"]
    data: StockReportedV1


class SupplyOfferedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.inventory.SupplyOffered.v1."""

    type: Literal["cn.taijiao.coal.inventory.SupplyOffered.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/inventory/SupplyOffered/v1.json"]
    data: SupplyOfferedV1


class CapacityPublishedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.transport.CapacityPublished.v1."""

    type: Literal["cn.taijiao.coal.transport.CapacityPublished.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/transport/CapacityPublished/v1.json"]
    data: CapacityPublishedV1


class TrainArrivedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.transport.TrainArrived.v1."""

    type: Literal["cn.taijiao.coal.transport.TrainArrived.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/transport/TrainArrived/v1.json"]
    data: TrainArrivedV1


class TrainDepartedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.transport.TrainDeparted.v1."""

    type: Literal["cn.taijiao.coal.transport.TrainDeparted.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/transport/TrainDeparted/v1.json"]
    data: TrainDepartedV1


class TruckWeighedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.transport.TruckWeighed.v1."""

    type: Literal["cn.taijiao.coal.transport.TruckWeighed.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/transport/TruckWeighed/v1.json"]
    data: TruckWeighedV1


class WagonsAllocatedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.transport.WagonsAllocated.v1."""

    type: Literal["cn.taijiao.coal.transport.WagonsAllocated.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/transport/WagonsAllocated/v1.json"]
    data: WagonsAllocatedV1


class WagonsLoadedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.transport.WagonsLoaded.v1."""

    type: Literal["cn.taijiao.coal.transport.WagonsLoaded.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/transport/WagonsLoaded/v1.json"]
    data: WagonsLoadedV1


class WagonsRequestedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.transport.WagonsRequested.v1."""

    type: Literal["cn.taijiao.coal.transport.WagonsRequested.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/transport/WagonsRequested/v1.json"]
    data: WagonsRequestedV1


class WagonsUnloadedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.transport.WagonsUnloaded.v1."""

    type: Literal["cn.taijiao.coal.transport.WagonsUnloaded.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/transport/WagonsUnloaded/v1.json"]
    data: WagonsUnloadedV1


class DeliveryConfirmedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.receipt.DeliveryConfirmed.v1."""

    type: Literal["cn.taijiao.coal.receipt.DeliveryConfirmed.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/receipt/DeliveryConfirmed/v1.json"]
    data: DeliveryConfirmedV1


class DeliveryDisputedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.receipt.DeliveryDisputed.v1."""

    type: Literal["cn.taijiao.coal.receipt.DeliveryDisputed.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/receipt/DeliveryDisputed/v1.json"]
    data: DeliveryDisputedV1


class KeyRevokedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.registry.KeyRevoked.v1."""

    type: Literal["cn.taijiao.coal.registry.KeyRevoked.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/registry/KeyRevoked/v1.json"]
    data: KeyRevokedV1


class KeyRotatedV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.registry.KeyRotated.v1."""

    type: Literal["cn.taijiao.coal.registry.KeyRotated.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/registry/KeyRotated/v1.json"]
    data: KeyRotatedV1


class ParticipantRegisteredV1Envelope(Envelope, frozen=True, kw_only=True):
    """Envelope of cn.taijiao.coal.registry.ParticipantRegistered.v1."""

    type: Literal["cn.taijiao.coal.registry.ParticipantRegistered.v1"]
    dataschema: Literal["https://schemas.taijiao-coal.cn/registry/ParticipantRegistered/v1.json"]
    data: ParticipantRegisteredV1


ENVELOPE_MODELS: dict[str, type[Envelope]] = {
    "cn.taijiao.coal.demand.DemandAmended.v1": DemandAmendedV1Envelope,
    "cn.taijiao.coal.demand.DemandPosted.v1": DemandPostedV1Envelope,
    "cn.taijiao.coal.demand.DemandWithdrawn.v1": DemandWithdrawnV1Envelope,
    "cn.taijiao.coal.inventory.LotAssayed.v1": LotAssayedV1Envelope,
    "cn.taijiao.coal.inventory.StockReported.v1": StockReportedV1Envelope,
    "cn.taijiao.coal.inventory.SupplyOffered.v1": SupplyOfferedV1Envelope,
    "cn.taijiao.coal.transport.CapacityPublished.v1": CapacityPublishedV1Envelope,
    "cn.taijiao.coal.transport.TrainArrived.v1": TrainArrivedV1Envelope,
    "cn.taijiao.coal.transport.TrainDeparted.v1": TrainDepartedV1Envelope,
    "cn.taijiao.coal.transport.TruckWeighed.v1": TruckWeighedV1Envelope,
    "cn.taijiao.coal.transport.WagonsAllocated.v1": WagonsAllocatedV1Envelope,
    "cn.taijiao.coal.transport.WagonsLoaded.v1": WagonsLoadedV1Envelope,
    "cn.taijiao.coal.transport.WagonsRequested.v1": WagonsRequestedV1Envelope,
    "cn.taijiao.coal.transport.WagonsUnloaded.v1": WagonsUnloadedV1Envelope,
    "cn.taijiao.coal.receipt.DeliveryConfirmed.v1": DeliveryConfirmedV1Envelope,
    "cn.taijiao.coal.receipt.DeliveryDisputed.v1": DeliveryDisputedV1Envelope,
    "cn.taijiao.coal.registry.KeyRevoked.v1": KeyRevokedV1Envelope,
    "cn.taijiao.coal.registry.KeyRotated.v1": KeyRotatedV1Envelope,
    "cn.taijiao.coal.registry.ParticipantRegistered.v1": ParticipantRegisteredV1Envelope,
}
"""Event type → its envelope Struct (what the fast path decodes into)."""

DATA_MODELS: dict[str, type[Model]] = {
    "cn.taijiao.coal.demand.DemandAmended.v1": DemandAmendedV1,
    "cn.taijiao.coal.demand.DemandPosted.v1": DemandPostedV1,
    "cn.taijiao.coal.demand.DemandWithdrawn.v1": DemandWithdrawnV1,
    "cn.taijiao.coal.inventory.LotAssayed.v1": LotAssayedV1,
    "cn.taijiao.coal.inventory.StockReported.v1": StockReportedV1,
    "cn.taijiao.coal.inventory.SupplyOffered.v1": SupplyOfferedV1,
    "cn.taijiao.coal.transport.CapacityPublished.v1": CapacityPublishedV1,
    "cn.taijiao.coal.transport.TrainArrived.v1": TrainArrivedV1,
    "cn.taijiao.coal.transport.TrainDeparted.v1": TrainDepartedV1,
    "cn.taijiao.coal.transport.TruckWeighed.v1": TruckWeighedV1,
    "cn.taijiao.coal.transport.WagonsAllocated.v1": WagonsAllocatedV1,
    "cn.taijiao.coal.transport.WagonsLoaded.v1": WagonsLoadedV1,
    "cn.taijiao.coal.transport.WagonsRequested.v1": WagonsRequestedV1,
    "cn.taijiao.coal.transport.WagonsUnloaded.v1": WagonsUnloadedV1,
    "cn.taijiao.coal.receipt.DeliveryConfirmed.v1": DeliveryConfirmedV1,
    "cn.taijiao.coal.receipt.DeliveryDisputed.v1": DeliveryDisputedV1,
    "cn.taijiao.coal.registry.KeyRevoked.v1": KeyRevokedV1,
    "cn.taijiao.coal.registry.KeyRotated.v1": KeyRotatedV1,
    "cn.taijiao.coal.registry.ParticipantRegistered.v1": ParticipantRegisteredV1,
}
"""Event type → its typed payload Struct."""

EXTRA_CHECKS: dict[str, tuple[tuple[str, tuple[str, ...], int], ...]] = {
    "cn.taijiao.coal.demand.DemandAmended.v1": (
        ("minProperties", ("data", "changes"), 1),
        ("minProperties", ("data", "changes", "quality"), 1),
        ("minProperties", ("data", "changes", "quality", "qnet_ar_kcal_per_kg"), 1),
        ("minProperties", ("data", "changes", "quality", "ad_pct"), 1),
        ("minProperties", ("data", "changes", "quality", "st_d_pct"), 1),
        ("minProperties", ("data", "changes", "quality", "vdaf_pct"), 1),
        ("minProperties", ("data", "changes", "quality", "mt_pct"), 1),
        ("minProperties", ("data", "changes", "quality", "g_index"), 1),
        ("minProperties", ("data", "changes", "quality", "hgi"), 1),
        ("minProperties", ("data", "changes", "quality", "size_mm"), 1),
    ),
    "cn.taijiao.coal.demand.DemandPosted.v1": (
        ("minProperties", ("data", "quality"), 1),
        ("minProperties", ("data", "quality", "qnet_ar_kcal_per_kg"), 1),
        ("minProperties", ("data", "quality", "ad_pct"), 1),
        ("minProperties", ("data", "quality", "st_d_pct"), 1),
        ("minProperties", ("data", "quality", "vdaf_pct"), 1),
        ("minProperties", ("data", "quality", "mt_pct"), 1),
        ("minProperties", ("data", "quality", "g_index"), 1),
        ("minProperties", ("data", "quality", "hgi"), 1),
        ("minProperties", ("data", "quality", "size_mm"), 1),
    ),
    "cn.taijiao.coal.inventory.SupplyOffered.v1": (
        ("minProperties", ("data", "quality"), 1),
        ("minProperties", ("data", "quality", "qnet_ar_kcal_per_kg"), 1),
        ("minProperties", ("data", "quality", "ad_pct"), 1),
        ("minProperties", ("data", "quality", "st_d_pct"), 1),
        ("minProperties", ("data", "quality", "vdaf_pct"), 1),
        ("minProperties", ("data", "quality", "mt_pct"), 1),
        ("minProperties", ("data", "quality", "g_index"), 1),
        ("minProperties", ("data", "quality", "hgi"), 1),
        ("minProperties", ("data", "quality", "size_mm"), 1),
    ),
    "cn.taijiao.coal.transport.TrainArrived.v1": (
        ("uniqueItems", ("data", "shipment_ids"), 0),
    ),
    "cn.taijiao.coal.transport.TrainDeparted.v1": (
        ("uniqueItems", ("data", "shipment_ids"), 0),
    ),
    "cn.taijiao.coal.registry.KeyRevoked.v1": (
        ("date-time", ("data", "compromised_since"), 0),
    ),
    "cn.taijiao.coal.registry.ParticipantRegistered.v1": (
        ("uniqueItems", ("data", "roles"), 0),
        ("uniqueItems", ("data", "mines"), 0),
        ("uniqueItems", ("data", "stations"), 0),
    ),
}
"""Event type → (keyword, attribute path, argument) checks msgspec cannot express; "*" = every item."""

LIFTED: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "cn.taijiao.coal.demand.DemandAmended.v1": (
        (("data", "order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "buyer_id"), "[a-z][a-z0-9-]{2,47}"),
        (("data", "changes", "quality", "ad_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "changes", "quality", "ad_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "changes", "quality", "st_d_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "changes", "quality", "st_d_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "changes", "quality", "vdaf_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "changes", "quality", "vdaf_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "changes", "quality", "mt_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "changes", "quality", "mt_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
    ),
    "cn.taijiao.coal.demand.DemandPosted.v1": (
        (("data", "order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "buyer_id"), "[a-z][a-z0-9-]{2,47}"),
        (("data", "quality", "ad_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "ad_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "st_d_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "st_d_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "vdaf_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "vdaf_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "mt_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "mt_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
    ),
    "cn.taijiao.coal.demand.DemandWithdrawn.v1": (
        (("data", "order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "buyer_id"), "[a-z][a-z0-9-]{2,47}"),
        (("data", "superseded_by_order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
    ),
    "cn.taijiao.coal.inventory.LotAssayed.v1": (
        (("data", "lot_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "assay", "assay_no"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "assay", "mt_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "mad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "aad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "ad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "vad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "vdaf_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "st_ad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "st_d_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
    ),
    "cn.taijiao.coal.inventory.StockReported.v1": (
        (("data", "lot_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "stockpile_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "assay", "assay_no"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "assay", "mt_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "mad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "aad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "ad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "vad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "vdaf_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "st_ad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "st_d_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
    ),
    "cn.taijiao.coal.inventory.SupplyOffered.v1": (
        (("data", "offer_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "lot_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "quality", "ad_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "ad_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "st_d_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "st_d_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "vdaf_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "vdaf_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "mt_pct", "min"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "quality", "mt_pct", "max"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
    ),
    "cn.taijiao.coal.transport.TrainArrived.v1": (
        (("data", "train_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "train_no"), "[A-Z]{0,2}[0-9]{1,5}"),
        (("data", "shipment_ids", "*"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
    ),
    "cn.taijiao.coal.transport.TrainDeparted.v1": (
        (("data", "train_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "train_no"), "[A-Z]{0,2}[0-9]{1,5}"),
        (("data", "shipment_ids", "*"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
    ),
    "cn.taijiao.coal.transport.TruckWeighed.v1": (
        (("data", "ticket_no"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "plate_no"), "[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][A-Z0-9]{5,6}"),
        (("data", "pickup_order_no"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "shipment_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
    ),
    "cn.taijiao.coal.transport.WagonsAllocated.v1": (
        (("data", "request_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
    ),
    "cn.taijiao.coal.transport.WagonsLoaded.v1": (
        (("data", "shipment_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "buyer_id"), "[a-z][a-z0-9-]{2,47}"),
        (("data", "lot_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "request_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "wagons", "*", "wagon_no"), "[0-9]{7}"),
        (("data", "wagons", "*", "waybill_no"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "assay", "assay_no"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "assay", "mt_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "mad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "aad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "ad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "vad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "vdaf_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "st_ad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "st_d_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
    ),
    "cn.taijiao.coal.transport.WagonsRequested.v1": (
        (("data", "request_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
    ),
    "cn.taijiao.coal.transport.WagonsUnloaded.v1": (
        (("data", "shipment_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "wagons", "*", "wagon_no"), "[0-9]{7}"),
    ),
    "cn.taijiao.coal.receipt.DeliveryConfirmed.v1": (
        (("data", "shipment_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "buyer_id"), "[a-z][a-z0-9-]{2,47}"),
        (("data", "assay", "assay_no"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "assay", "mt_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "mad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "aad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "ad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "vad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "vdaf_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "st_ad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "st_d_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
    ),
    "cn.taijiao.coal.receipt.DeliveryDisputed.v1": (
        (("data", "shipment_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "order_id"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "buyer_id"), "[a-z][a-z0-9-]{2,47}"),
        (("data", "assay", "assay_no"), "[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"),
        (("data", "assay", "mt_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "mad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "aad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "ad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "vad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "vdaf_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "st_ad_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
        (("data", "assay", "st_d_pct"), "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
    ),
    "cn.taijiao.coal.registry.KeyRevoked.v1": (
        (("data", "participant_id"), "[a-z][a-z0-9-]{2,47}"),
        (("data", "key_id"), "[0-9a-f]{64}"),
    ),
    "cn.taijiao.coal.registry.KeyRotated.v1": (
        (("data", "participant_id"), "[a-z][a-z0-9-]{2,47}"),
        (("data", "old_key_id"), "[0-9a-f]{64}"),
        (("data", "new_public_key"), "[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]="),
        (("data", "new_key_id"), "[0-9a-f]{64}"),
    ),
    "cn.taijiao.coal.registry.ParticipantRegistered.v1": (
        (("data", "participant_id"), "[a-z][a-z0-9-]{2,47}"),
        (("data", "credit_code"), "[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}"),
        (("data", "public_key"), "[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]="),
        (("data", "key_id"), "[0-9a-f]{64}"),
    ),
}
"""Event type → (attribute path, BODY) of the data strings declared plain ``str``: each must fullmatch
BODY (its pattern is ``^BODY$(?!\\n)``); :mod:`schemas.validation` checks them all in one regex."""
