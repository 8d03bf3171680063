"""Flask extension objects, created once and bound in create_app."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from server.api.base import AllianceApi
from server.models.base import Base

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate(compare_type=True, render_as_batch=True)
api = AllianceApi()
