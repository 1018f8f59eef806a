"""The Visual Response Engine (VRE): rendered images for chat channels and their templates.

The template data models keep the official camelCase aliases, while the server's templates and
:class:`~linktor.client.VREResource`'s convenience methods use snake_case keys; since models
populate by name too, ``model_dump()`` (without ``by_alias``) gives the keys the server reads.
"""

import warnings
from typing import Any

from pydantic import Field

from linktor.types._base import LinktorModel, StrEnum

__all__ = [
    "CardProdutoData",
    "CobrancaPixData",
    "ConfirmacaoData",
    "ConfirmacaoItem",
    "ListaProdutoItem",
    "ListaProdutosData",
    "MenuOpcaoData",
    "MenuOpcoesData",
    "OrderStatus",
    "StatusPedidoData",
    "StatusPedidoStep",
    "StockStatus",
    "VREChannelType",
    "VREListTemplatesResponse",
    "VREOutputFormat",
    "VREPreviewRequest",
    "VREPreviewResponse",
    "VRERenderAndSendRequest",
    "VRERenderAndSendResponse",
    "VRERenderRequest",
    "VRERenderResponse",
    "VRETemplate",
    "VRETemplateType",
]


class VREOutputFormat(StrEnum):
    PNG = "png"
    WEBP = "webp"
    JPEG = "jpeg"


class VREChannelType(StrEnum):
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    WEB = "web"
    EMAIL = "email"


class VRETemplateType(StrEnum):
    MENU_OPCOES = "menu_opcoes"
    CARD_PRODUTO = "card_produto"
    STATUS_PEDIDO = "status_pedido"
    LISTA_PRODUTOS = "lista_produtos"
    CONFIRMACAO = "confirmacao"
    COBRANCA_PIX = "cobranca_pix"


class OrderStatus(StrEnum):
    RECEBIDO = "recebido"
    SEPARACAO = "separacao"
    FATURADO = "faturado"
    TRANSPORTE = "transporte"
    ENTREGUE = "entregue"


class StockStatus(StrEnum):
    DISPONIVEL = "disponivel"
    BAIXO = "baixo"
    INDISPONIVEL = "indisponivel"


class VRERenderRequest(LinktorModel):
    tenant_id: str = Field(alias="tenantId")
    template_id: str = Field(alias="templateId")
    data: dict[str, Any]
    channel: VREChannelType | None = None
    format: VREOutputFormat | None = None
    width: int | None = None
    quality: int | None = None
    scale: float | None = None


class VRERenderResponse(LinktorModel):
    image_base64: str = Field(alias="imageBase64")
    caption: str
    width: int
    height: int
    format: VREOutputFormat
    render_time_ms: int = Field(alias="renderTimeMs")
    size_bytes: int | None = Field(default=None, alias="sizeBytes")
    cache_hit: bool | None = Field(default=None, alias="cacheHit")


class VRERenderAndSendRequest(LinktorModel):
    conversation_id: str = Field(alias="conversationId")
    template_id: str = Field(alias="templateId")
    data: dict[str, Any]
    caption: str | None = None
    follow_up_text: str | None = Field(default=None, alias="followUpText")


class VRERenderAndSendResponse(LinktorModel):
    message_id: str = Field(alias="messageId")
    image_url: str = Field(alias="imageUrl")
    caption: str


# The official model names its JSON-schema field ``schema``, which shadows the deprecated
# ``BaseModel.schema()``; pydantic warns about it, and a warning at import fails ``-W error``.
# The field is kept (``template.schema`` is the dict); only that one warning is silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "schema"', category=UserWarning)

    class VRETemplate(LinktorModel):
        id: VRETemplateType
        name: str
        description: str
        schema: dict[str, Any]  # type: ignore[assignment]


class VREListTemplatesResponse(LinktorModel):
    templates: list[VRETemplate]


class VREPreviewRequest(LinktorModel):
    template_id: str = Field(alias="templateId")
    data: dict[str, Any] | None = None


class VREPreviewResponse(LinktorModel):
    image_base64: str = Field(alias="imageBase64")
    width: int
    height: int


class MenuOpcaoData(LinktorModel):
    label: str
    descricao: str | None = None
    icone: str | None = None


class MenuOpcoesData(LinktorModel):
    titulo: str
    subtitulo: str | None = None
    opcoes: list[MenuOpcaoData]
    mensagem_antes: str | None = Field(default=None, alias="mensagemAntes")


class CardProdutoData(LinktorModel):
    nome: str
    sku: str | None = None
    preco: float
    unidade: str
    estoque: int | None = None
    imagem_url: str | None = Field(default=None, alias="imagemUrl")
    destaque: str | None = None
    mensagem: str | None = None


class StatusPedidoStep(LinktorModel):
    status: str
    icon: str
    label: str


class StatusPedidoData(LinktorModel):
    numero_pedido: str = Field(alias="numeroPedido")
    status_atual: OrderStatus = Field(alias="statusAtual")
    itens_resumo: str | None = Field(default=None, alias="itensResumo")
    valor_total: float | None = Field(default=None, alias="valorTotal")
    previsao_entrega: str | None = Field(default=None, alias="previsaoEntrega")
    motorista: str | None = None
    mensagem: str | None = None


class ListaProdutoItem(LinktorModel):
    nome: str
    preco: float
    unidade: str | None = None
    estoque_status: StockStatus | None = Field(default=None, alias="estoqueStatus")
    sku: str | None = None
    emoji: str | None = None


class ListaProdutosData(LinktorModel):
    titulo: str
    produtos: list[ListaProdutoItem]
    mensagem: str | None = None


class ConfirmacaoItem(LinktorModel):
    nome: str
    quantidade: str | None = None
    preco: float
    emoji: str | None = None


class ConfirmacaoData(LinktorModel):
    titulo: str | None = None
    subtitulo: str | None = None
    itens: list[ConfirmacaoItem]
    valor_total: float = Field(alias="valorTotal")
    previsao_entrega: str | None = Field(default=None, alias="previsaoEntrega")
    mensagem: str | None = None


class CobrancaPixData(LinktorModel):
    valor: float
    numero_pedido: str | None = Field(default=None, alias="numeroPedido")
    pix_payload: str = Field(alias="pixPayload")
    expiracao: str | None = None
    mensagem: str | None = None
