"""An import-linter contract: no private name is imported across packages.

import-linter's own ``private_modules`` contract covers private *modules*
(``pkg._grid``). This one covers private *names*: ``from pkg.mod import
_helper`` is allowed only inside ``pkg`` (the package that holds ``mod``),
like a private module. Dunder names (``__version__``) are not private.
The import graph gives the modules; each module's source is read with
``ast`` so that imports over several lines are seen whole.
"""

import ast
import importlib.util

from importlinter import Contract, ContractCheck, fields, output


def is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def parent(module):
    return module.rpartition(".")[0]


def inside(module, package):
    return module == package or module.startswith(package + ".")


def private_imports(module, source):
    """``(line, imported module, name)`` of every ``from M import _name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module, alias.name) for alias in node.names
                      if is_private(alias.name)]
    return found


def violations(sources):
    """``sources``: {module: source text}. The private names imported from
    outside the package that holds them."""
    broken = []
    for module, source in sorted(sources.items()):
        for line, imported, name in private_imports(module, source):
            if not inside(module, parent(imported)):
                broken.append((module, line, imported, name))
    return broken


class PrivateNamesContract(Contract):
    """Configuration: ``packages``, the packages whose modules are read."""

    type_name = "private_names"
    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose):
        sources = {}
        for module in sorted(graph.modules):
            if not any(inside(module, package) for package in self.packages):
                continue
            spec = importlib.util.find_spec(module)
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                with open(spec.origin, encoding="utf-8") as file:
                    sources[module] = file.read()
        broken = violations(sources)
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check):
        for module, line, imported, name in check.metadata["broken"]:
            output.print_error(f"{module}:{line} imports {imported}.{name}, a private name of "
                               f"{parent(imported)}; make it public or keep the caller there",
                               bold=False)
            output.new_line()
