"""The turn decision graph (LangGraph): conversation state in, a typed ``Decision`` out.

Import ``shared.agent.graph`` only from the agent function: it loads LangChain and LangGraph,
which the webhook's cold-start path must never pay for.
"""
