package cmd

import "github.com/spf13/cobra"

const completionLong = `Generate the shell completion script of kubectl infer-hpa.

Run as a kubectl plugin ("kubectl infer-hpa ..."), completion comes from
kubectl: with kubectl 1.26 or later and kubectl's own completion enabled
(kubectl completion --help), kubectl runs kubectl_complete-infer_hpa from PATH,
which asks this plugin. The release archives ship that script; krew installs it
into its store but links only the plugin, so copy it next to the plugin:

  (cd "${KREW_ROOT:-$HOME/.krew}" &&
    cp store/infer-hpa/v*/kubectl_complete-infer_hpa bin/)

Run directly as kubectl-infer_hpa, load the script this command prints.`

const completionExample = `  # kubectl infer-hpa <TAB> (bash), after: source <(kubectl completion bash)
  command -v kubectl_complete-infer_hpa

  # kubectl-infer_hpa <TAB>, for the current bash session
  source <(kubectl infer-hpa completion bash)

  # zsh and fish
  kubectl infer-hpa completion zsh > "${fpath[1]}/_kubectl-infer_hpa"
  kubectl infer-hpa completion fish > ~/.config/fish/completions/kubectl-infer_hpa.fish`

// setupCompletion adds cobra's completion command (bash, zsh, fish,
// powershell) now rather than at Execute, so that its help can explain how
// completion reaches a kubectl plugin.
func setupCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Long = completionLong
			c.Example = completionExample
		}
	}
}
