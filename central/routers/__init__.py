"""The API's routes, one APIRouter per area; central.app mounts them."""
