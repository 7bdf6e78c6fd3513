"""mi-tasks: how much information a language model's hidden states keep about its input, layer by layer."""
from .corpora import Corpus, load_corpus
from .errors import MiTasksError
from .extraction import HiddenStateExtractor
from .information import fano_mi_bits
from .layers import parse_layers
from .modeling import load_model
from .recoverability import RecoverabilityProbe, RecoverabilityResult

__version__ = "0.1.0"
__all__ = ["Corpus", "HiddenStateExtractor", "MiTasksError", "RecoverabilityProbe", "RecoverabilityResult",
           "fano_mi_bits", "load_corpus", "load_model", "parse_layers", "__version__"]
