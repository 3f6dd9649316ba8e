"""`BaseModel`: structured outputs, declared as classes with annotated fields."""

from __future__ import annotations

import sys
from dataclasses import dataclass, is_dataclass
from typing import Any

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # a dependency of pycog's; imported only where typing lacks it
    from typing_extensions import dataclass_transform


@dataclass_transform()
class BaseModel:
    """Base class of structured output types; every subclass becomes a dataclass.

    Example::

        class Output(BaseModel):
            text: str
            score: float

    Keyword arguments of the class statement go to `dataclasses.dataclass` (`init=False`,
    `frozen=True`...). `auto_dataclass=False` leaves the class alone.
    """

    __cog_auto_dataclass__: bool = True

    def __init_subclass__(cls, *, auto_dataclass: bool = True, **dataclass_options: Any) -> None:
        super().__init_subclass__()
        primary = cls.__bases__[0]
        if not issubclass(primary, BaseModel):
            raise TypeError(f'Primary base class of "{cls.__name__}" must inherit from BaseModel')
        for mixin in cls.__bases__[1:]:
            if is_dataclass(mixin):
                raise TypeError(
                    f'Cannot mix in dataclass "{mixin.__name__}" while inheriting from BaseModel'
                )
        if not auto_dataclass:
            if primary is not BaseModel and primary.__dict__.get("__cog_auto_dataclass__", True):
                raise ValueError(
                    f'"{cls.__name__}" sets auto_dataclass=False but its base '
                    f'"{primary.__name__}" is a dataclass: fields would not be inherited'
                )
            cls.__cog_auto_dataclass__ = False
            return
        dataclass(**dataclass_options)(cls)
        cls.__cog_auto_dataclass__ = True
